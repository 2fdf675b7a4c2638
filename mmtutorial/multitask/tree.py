"""Two tasks on a label tree (e.g. emoji group -> subgroup): the parent map, consistency, joint decoding.

A coarse task (``K_c`` classes) and a fine task (``K_f`` classes) form a tree when every fine class has
exactly one coarse parent, ``parent[f] in [0, K_c)``. Two independent heads can disagree with the tree
(predict a subgroup whose group is not the predicted group); :func:`tree_consistency` measures how often they
agree, and :func:`tree_decode` picks the most likely *path* so that they always do.
"""

from __future__ import annotations

import torch

from mmtutorial._validate import check_positive, check_tensor


def parent_index(coarse: torch.Tensor, fine: torch.Tensor, num_fine: int) -> torch.Tensor:
    """The parent of every fine class, read from labelled pairs.

    Args:
        coarse: ``(N,)`` long coarse labels; ``fine``: ``(N,)`` long fine labels of the same samples.
        num_fine: ``K_f``, the number of fine classes; each must occur at least once.
    Returns:
        ``parent (K_f,)`` long. A fine class seen with two different parents is not a tree: ValueError.
    """
    check_positive("num_fine", num_fine)
    coarse = check_tensor("coarse", coarse, ndim=1)
    fine = check_tensor("fine", fine, shape=(coarse.shape[0],))
    if coarse.is_floating_point() or fine.is_floating_point():
        raise ValueError(f"coarse and fine must hold integer class ids, got {coarse.dtype} and {fine.dtype}")
    if bool((coarse < 0).any()) or bool((fine < 0).any()) or bool((fine >= num_fine).any()):
        raise ValueError(f"labels must be >= 0 and fine < num_fine={num_fine} (no missing labels here)")
    parent = torch.full((num_fine,), -1, dtype=torch.long)
    parent[fine] = coarse  # one of the parents seen for each fine class
    if bool((parent[fine] != coarse).any()):
        f = int(fine[parent[fine] != coarse][0])
        seen = sorted(set(coarse[fine == f].tolist()))
        raise ValueError(f"fine class {f} occurs under several coarse classes {seen}: not a tree")
    if bool((parent < 0).any()):
        missing = (parent < 0).nonzero().flatten().tolist()
        raise ValueError(
            f"every fine class needs a labelled sample to find its parent, got none for {missing}"
        )
    return parent


def _check_parent(parent: torch.Tensor, num_fine: int | None = None) -> torch.Tensor:
    parent = check_tensor("parent", parent, ndim=1)
    if parent.is_floating_point() or bool((parent < 0).any()):
        raise ValueError(
            f"parent must hold coarse class ids >= 0, got {parent.dtype} with min {parent.min()}"
        )
    if num_fine is not None and parent.shape[0] != num_fine:
        raise ValueError(f"parent must have one entry per fine class ({num_fine}), got {parent.shape[0]}")
    return parent


def tree_consistency(coarse_pred: torch.Tensor, fine_pred: torch.Tensor, parent: torch.Tensor) -> float:
    """Share of samples whose predicted fine class lies under the predicted coarse class.

    ``coarse_pred, fine_pred (N,)`` long, ``parent (K_f,)`` long: ``mean_i [parent[fine_pred_i] ==
    coarse_pred_i]``, in [0, 1]. 1 means the two heads never contradict the tree.
    """
    coarse_pred = check_tensor("coarse_pred", coarse_pred, ndim=1)
    fine_pred = check_tensor("fine_pred", fine_pred, shape=(coarse_pred.shape[0],))
    parent = _check_parent(parent)
    if coarse_pred.shape[0] == 0:
        raise ValueError("coarse_pred must hold at least one prediction, got 0")
    if bool((fine_pred < 0).any()) or bool((fine_pred >= parent.shape[0]).any()):
        raise ValueError(
            f"fine_pred must be in [0, {parent.shape[0]}), got [{fine_pred.min()}, {fine_pred.max()}]"
        )
    return float((parent[fine_pred] == coarse_pred).float().mean())


def tree_decode(
    coarse_logits: torch.Tensor, fine_logits: torch.Tensor, parent: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The most likely path of two independent heads: consistent predictions by construction.

    ``coarse_logits (N, K_c)``, ``fine_logits (N, K_f)``, ``parent (K_f,)``. Scores each fine class by the
    joint log-probability of its path, ``s(f) = log p_fine(f) + log p_coarse(parent[f])``, predicts
    ``f* = argmax_f s(f)`` and ``c* = parent[f*]``. Returns ``(coarse_pred (N,), fine_pred (N,))`` long.
    """
    coarse_logits = check_tensor("coarse_logits", coarse_logits, ndim=2, floating=True, finite=True)
    fine_logits = check_tensor(
        "fine_logits", fine_logits, shape=(coarse_logits.shape[0], None), floating=True, finite=True
    )
    parent = _check_parent(parent, fine_logits.shape[1])
    if bool((parent >= coarse_logits.shape[1]).any()):
        raise ValueError(
            f"parent must be < {coarse_logits.shape[1]} coarse classes, got max {int(parent.max())}"
        )
    score = fine_logits.log_softmax(-1) + coarse_logits.log_softmax(-1)[:, parent]  # (N, K_f)
    fine_pred = score.argmax(-1)
    return parent[fine_pred], fine_pred

"""Checks for chapter 04 (fusion, 3.2.2 模态融合)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from mmtutorial.exercises import expect


def check_tensor_fusion_vector(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None) -> bool:
    """``fn(a (B, p), b (B, q)) -> (B, (p+1)(q+1))``: ``vec([1; a] (x) [1; b])``, row-major.

    Entry ``i * (q + 1) + j`` of a row is ``[1; a]_i * [1; b]_j``.
    """
    expect(fn is not None, "write tensor_fusion_vector first")
    g = torch.Generator().manual_seed(0)
    for p, q in ((2, 3), (4, 1)):
        a, b = torch.randn(5, p, generator=g), torch.randn(5, q, generator=g)
        got = fn(a, b)
        expect(isinstance(got, torch.Tensor), f"return a tensor, got {type(got).__name__}")
        expect(
            got.shape == (5, (p + 1) * (q + 1)),
            f"for a {(5, p)} and b {(5, q)} need shape {(5, (p + 1) * (q + 1))}, got {tuple(got.shape)}",
        )
        one = torch.ones(5, 1)
        want = torch.einsum("bi,bj->bij", torch.cat([one, a], 1), torch.cat([one, b], 1)).reshape(5, -1)
        expect(torch.allclose(got[:, 0], torch.ones(5)), "entry 0 must be the constant 1 (1 * 1)")
        expect(
            torch.allclose(got, want, atol=1e-6),
            "not vec([1;a] outer [1;b]): prepend a 1 to each vector, take the outer product, "
            "flatten row-major",
        )
    return True


def check_parameter_counts(answer: dict | None) -> bool:
    """``{"tensor": n1, "low_rank": n2}``: parameters of the *fusion step* for three 16-d modalities, out 32.

    ``tensor``: the output layer of ``TensorFusion(hidden=8)`` (weight + bias) acting on ``vec(Z)``;
    ``low_rank``: factors + fusion weights + bias of ``LowRankTensorFusion(rank=4)`` on the raw 16-d inputs.
    """
    from mmtutorial.fusion import LowRankTensorFusion, TensorFusion

    expect(answer is not None, "fill in the two counts first")
    expect(
        isinstance(answer, dict) and set(answer) == {"tensor", "low_rank"},
        "answer: {'tensor': ..., 'low_rank': ...}",
    )
    dims = {"a": 16, "b": 16, "c": 16}
    tf = TensorFusion(dims, 32, hidden=8)
    lmf = LowRankTensorFusion(dims, 32, rank=4)
    want_t = sum(p.numel() for p in tf.out.parameters())
    want_l = sum(p.numel() for n, p in lmf.named_parameters() if not n.startswith("missing."))
    expect(
        int(answer["tensor"]) == want_t,
        f"tensor: {answer['tensor']} is wrong; vec(Z) has (hidden+1)^3 entries, the layer maps it "
        "to 32 (+ bias)",
    )
    expect(
        int(answer["low_rank"]) == want_l,
        f"low_rank: {answer['low_rank']} is wrong; each modality has a (rank, 16+1, 32) factor, "
        "plus (1, rank) fusion weights and a 32 bias",
    )
    return True


@functools.lru_cache(maxsize=1)
def exercise_task():
    """The small ``match`` task the last exercise trains on (800 train / 400 test rows, seed 0)."""
    from mmtutorial.fusion_tasks import make_task

    return make_task("match", n_train=800, n_test=400, seed=0)


def check_concat_mlp(model: nn.Module | None, threshold: float = 0.75) -> bool:
    """A model (``{modality: EncoderOutput}`` -> 2 logits) trained on :func:`exercise_task`.

    Its test accuracy must beat ``threshold``: a hidden non-linear layer after the concatenation is enough to
    capture the interaction that late concatenation with a linear read-out misses.
    """
    from mmtutorial.fusion_tasks import evaluate

    expect(model is not None, "build and train your model first")
    expect(isinstance(model, nn.Module), f"model must be an nn.Module, got {type(model).__name__}")
    acc = evaluate(model, exercise_task())
    expect(
        acc > threshold,
        f"test accuracy {acc:.3f} <= {threshold}: is there a non-linearity between the concatenation and the"
        " linear head, and did you train it?",
    )
    return True

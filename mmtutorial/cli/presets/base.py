"""What a preset hands the ``train`` and ``eval`` commands, and the retrieval metrics of a two-tower run."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import Dataset

from mmtutorial.eval import chance_recall_at_k, recall_at_k
from mmtutorial.training import TrainConfig


@dataclass
class Job:
    """A built preset: the model, its training data and loss, and how to embed a split for retrieval.

    ``embed(model, split)`` returns image embeddings ``(N, E)``, text embeddings ``(N, E)`` (row ``i`` of
    both is pair ``i``) and the ``N`` captions (equal captions count as correct answers for each other).
    """

    model: nn.Module
    train: Dataset
    loss_fn: Callable
    embed: Callable[[nn.Module, str], tuple[torch.Tensor, torch.Tensor, list[str]]]
    images: Callable[[str], torch.Tensor] | None = None  # split -> (N, 3, H, W), to look at failures
    eval_split: str = "test"  # what the evaluations during training embed ("val" when a preset carves one)


def caption_positives(captions: Sequence[str]) -> torch.Tensor:
    """Bool ``(N, N)``: pair ``j``'s caption answers image ``i`` when the two captions are the same text."""
    ids = {c: k for k, c in enumerate(dict.fromkeys(captions))}
    labels = torch.tensor([ids[c] for c in captions])
    return labels[:, None] == labels[None, :]


def retrieval_metrics(img: torch.Tensor, txt: torch.Tensor, captions: Sequence[str]) -> dict[str, float]:
    """``i2t_r1``, ``i2t_r5`` (each image queries every caption of the split), ``t2i_r1``, ``t2i_r5``
    (each caption queries every image), ``n_queries`` and the recall of a random ranking for each
    (``chance_i2t_r1``, ...: k / N with one positive per query); ``img``, ``txt`` ``(N, E)`` L2-normalised."""
    if img.shape != txt.shape or img.ndim != 2 or len(captions) != img.shape[0]:
        raise ValueError(
            f"img and txt must be (N, E) with N = len(captions), got {tuple(img.shape)}, {tuple(txt.shape)}, "
            f"{len(captions)} captions"
        )
    scores = img.float() @ txt.float().T  # (N images, N captions)
    pos = caption_positives(captions)
    out: dict[str, float] = {}
    for k in (1, 5):
        out[f"i2t_r{k}"] = recall_at_k(scores, pos, k)
        out[f"t2i_r{k}"] = recall_at_k(scores.T.contiguous(), pos.T.contiguous(), k)
    out["n_queries"] = int(img.shape[0])
    for k in (1, 5):
        out[f"chance_i2t_r{k}"] = chance_recall_at_k(pos, k)
        out[f"chance_t2i_r{k}"] = chance_recall_at_k(pos.T.contiguous(), k)
    return out


def batched(fn: Callable[[object], torch.Tensor], items: Mapping | torch.Tensor, n: int, size: int = 256):
    """``fn`` over rows ``[i:i+size]`` of ``items`` (a tensor or a dict of tensors), concatenated."""
    outs = []
    for i in range(0, n, size):
        part = (
            {k: v[i : i + size] for k, v in items.items()}
            if isinstance(items, Mapping)
            else items[i : i + size]
        )
        outs.append(fn(part))
    return torch.cat(outs)


def eval_fn_for(job: Job, split: str | None = None) -> Callable[[nn.Module], dict[str, float]]:
    """The ``eval_fn`` that :func:`~mmtutorial.training.fit` runs every ``eval_every`` steps (retrieval on
    ``split``, default ``job.eval_split``)."""
    split = split or job.eval_split

    def run(model: nn.Module) -> dict[str, float]:
        img, txt, caps = job.embed(model, split)
        m = retrieval_metrics(img, txt, caps)
        return {k: v for k, v in m.items() if k != "n_queries" and not k.startswith("chance_")}

    return run


__all__ = ["Job", "TrainConfig", "batched", "caption_positives", "eval_fn_for", "retrieval_metrics"]

"""Each chapter-02 check accepts a right answer and rejects wrong ones."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from mmtutorial.exercises.ch02 import check_attention, check_causal_mask, check_info_nce


def attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(-1) @ v


def test_causal_mask():
    assert check_causal_mask(lambda t: torch.ones(t, t, dtype=torch.bool).tril())
    for wrong in (
        None,
        lambda t: torch.ones(t, t, dtype=torch.bool).triu(),  # the future instead of the past
        lambda t: torch.ones(t, t).tril(),  # float, not bool
        lambda t: torch.ones(t, t, dtype=torch.bool).tril(-1),  # misses the diagonal
    ):
        with pytest.raises(AssertionError):
            check_causal_mask(wrong)


def test_attention():
    assert check_attention(attention)
    assert check_attention(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m))
    for wrong in (
        None,
        lambda q, k, v, m: (q @ k.transpose(-2, -1)).softmax(-1) @ v,  # no scaling
        lambda q, k, v, m: (
            (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1) @ v
        ),  # ignores the mask
        lambda q, k, v, m: (
            (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-2) @ v
        ),  # softmax over queries
    ):
        with pytest.raises(AssertionError):
            check_attention(wrong)


def info_nce(a, b, t):
    logits = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T / t
    labels = torch.arange(len(a))
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def test_info_nce():
    assert check_info_nce(info_nce)
    from mmtutorial.losses.reference import clip_loss

    assert check_info_nce(
        lambda a, b, t: clip_loss(F.normalize(a, dim=-1), F.normalize(b, dim=-1), torch.tensor(1 / t))
    )
    for wrong in (
        None,
        lambda a, b, t: F.cross_entropy(
            F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T / t, torch.arange(len(a))
        ),
        lambda a, b, t: info_nce(a, b, 1.0),  # ignores the temperature
        lambda a, b, t: (
            (F.cross_entropy(a @ b.T / t, torch.arange(len(a))) * 2) / 2
        ),  # not normalised, one way
    ):
        with pytest.raises(AssertionError):
            check_info_nce(wrong)


def test_a_wrong_answer_is_refused_under_python_O():
    """`python -O` removes assert statements; the ch02 checks must still refuse a wrong answer."""
    import subprocess
    import sys

    code = (
        "import torch\n"
        "from mmtutorial.exercises import WrongAnswer, ch02\n"
        "try:\n"
        "    ch02.check_causal_mask(lambda t: torch.ones(t, t, dtype=torch.bool))\n"
        "except WrongAnswer:\n"
        "    print('refused')\n"
    )
    out = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "refused"

"""Checks for chapter 02 (core concepts): attention, causal masks and the contrastive (InfoNCE) loss."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from mmtutorial.exercises import expect


def check_causal_mask(make_mask: Callable[[int], torch.Tensor] | None) -> bool:
    """``make_mask(T)`` -> bool ``(T, T)``, True where query i may attend to key j (j <= i)."""
    expect(make_mask is not None, "write causal_mask(T) first")
    for t in (1, 2, 5, 7):
        mask = make_mask(t)
        expect(
            isinstance(mask, torch.Tensor),
            f"causal_mask({t}) must return a tensor, got {type(mask).__name__}",
        )
        expect(mask.dtype == torch.bool, f"causal_mask({t}) must be a bool tensor, got {mask.dtype}")
        expect(mask.shape == (t, t), f"causal_mask({t}) must have shape ({t}, {t}), got {tuple(mask.shape)}")
        want = torch.ones(t, t, dtype=torch.bool).tril()
        expect(
            torch.equal(mask, want),
            f"causal_mask({t}) is wrong: query i may see keys 0..i (lower triangle, diagonal included)",
        )
    return True


def check_attention(attention: Callable | None) -> bool:
    """``attention(q, k, v, mask)`` -> ``(B, Tq, Dv)``: softmax(q k^T / sqrt(d), masked) v.

    ``mask`` is None or bool ``(Tq, Tk)``, True = may attend. Compared with
    ``torch.nn.functional.scaled_dot_product_attention`` in float64 on several shapes.
    """
    expect(attention is not None, "write attention(q, k, v, mask) first")
    g = torch.Generator().manual_seed(0)
    for batch, tq, tk, d, dv in ((2, 3, 5, 4, 6), (1, 7, 7, 8, 8), (3, 1, 4, 2, 3)):
        q = torch.randn(batch, tq, d, generator=g, dtype=torch.float64)
        k = torch.randn(batch, tk, d, generator=g, dtype=torch.float64)
        v = torch.randn(batch, tk, dv, generator=g, dtype=torch.float64)
        masks = [None, torch.rand(tq, tk, generator=g) > 0.4]
        masks[1][:, 0] = True  # every query sees at least one key
        for mask in masks:
            got = attention(q, k, v, mask)
            expect(isinstance(got, torch.Tensor), f"attention must return a tensor, got {type(got).__name__}")
            expect(
                got.shape == (batch, tq, dv),
                f"output must have shape {(batch, tq, dv)}, got {tuple(got.shape)}",
            )
            want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            expect(
                torch.allclose(got.double(), want, atol=1e-8),
                "attention differs from torch's scaled_dot_product_attention"
                + (" with a mask: masked scores must be -inf before the softmax" if mask is not None else "")
                + "; did you divide the scores by sqrt(d) and take the softmax over the keys (last axis)?",
            )
    return True


def reference_info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE of paired rows (N, D): mean of CE(a b^T / t, diag) and CE(b a^T / t, diag),
    a and b L2-normalised first."""
    logits = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T / temperature
    labels = torch.arange(len(a))
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def check_info_nce(info_nce: Callable | None) -> bool:
    """``info_nce(a, b, temperature)`` -> scalar: the symmetric InfoNCE loss of (N, D) paired embeddings."""
    expect(info_nce is not None, "write info_nce(a, b, temperature) first")
    g = torch.Generator().manual_seed(1)
    for n, d, t in ((4, 2, 0.1), (8, 5, 0.5), (16, 3, 1.0)):
        a = torch.randn(n, d, generator=g, dtype=torch.float64)
        b = a + 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64)
        got = info_nce(a, b, t)
        expect(isinstance(got, torch.Tensor) and got.ndim == 0, "info_nce must return a 0-dim tensor")
        want = reference_info_nce(a, b, t)
        expect(
            torch.allclose(got.double(), want, atol=1e-8),
            f"info_nce gives {float(got):.4f}, expected {float(want):.4f} (N={n}, t={t}): normalise a and b, "
            "divide the cosine similarities by the temperature, and average the a->b and b->a "
            "cross-entropies",
        )
    return True

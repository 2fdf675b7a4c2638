"""Self-checks for chapter 08 (pretraining and fine-tuning, 迁移学习).

Each check raises :class:`~mmtutorial.exercises.WrongAnswer` (an ``AssertionError``) with a hint on a wrong
answer (explicit ``raise`` via ``expect``, so ``python -O`` keeps it) and returns True on a right one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from mmtutorial.exercises import expect


def lora_exercise_tensors() -> dict[str, torch.Tensor | float]:
    """Fixed fp64 inputs of exercise 1: x (5, 6), W (4, 6), b (4,), A (2, 6), B (4, 2), scaling."""
    g = torch.Generator().manual_seed(8)
    return {
        "x": torch.randn(5, 6, generator=g, dtype=torch.float64),
        "W": torch.randn(4, 6, generator=g, dtype=torch.float64),
        "b": torch.randn(4, generator=g, dtype=torch.float64),
        "A": torch.randn(2, 6, generator=g, dtype=torch.float64),
        "B": torch.randn(4, 2, generator=g, dtype=torch.float64),
        "scaling": 1.5,
    }


def check_lora_forward(fn: Callable | None) -> bool:
    """Exercise 1: ``fn(x, W, b, A, B, scaling)`` returns LoRA's output ``x W^T + b + scaling x A^T B^T``."""
    expect(fn is not None, "assign your function to `lora_forward`")
    t = lora_exercise_tensors()
    out = torch.as_tensor(fn(**t), dtype=torch.float64)
    x, w, b, a, bb, s = t["x"], t["W"], t["b"], t["A"], t["B"], t["scaling"]
    want = x @ w.T + b + s * (x @ a.T) @ bb.T
    expect(out.shape == (5, 4), f"the output is (batch, out) = (5, 4), got {tuple(out.shape)}")
    expect(
        not torch.allclose(out, x @ w.T + b + (x @ a.T) @ bb.T, atol=1e-9),
        "close: multiply the low-rank path by `scaling` (alpha / r)",
    )
    expect(not torch.allclose(out, x @ w.T + s * (x @ a.T) @ bb.T, atol=1e-9), "close: add the base bias b")
    expect(torch.allclose(out, want, atol=1e-9), "hint: base(x) + scaling * B(A(x)), i.e. x A^T then B^T")
    return True


def check_llrd_rates(answer) -> bool:
    """Exercise 2: the LLRD learning rates of layers 0 .. 5 of a 4-block model, lr = 1e-3, decay = 0.5."""
    expect(answer is not None, "assign your list of 6 learning rates to `answer`")
    got = [float(v) for v in answer]
    expect(len(got) == 6, f"4 blocks give 6 layers (embeddings, 4 blocks, head), got {len(got)} rates")
    want = [1e-3 * 0.5 ** (4 + 1 - i) for i in range(6)]
    expect(
        not all(math.isclose(g, w, rel_tol=1e-9) for g, w in zip(got, want[::-1], strict=True)),
        "reversed: the head gets the full lr and the embeddings the smallest",
    )
    expect(
        all(math.isclose(g, w, rel_tol=1e-9) for g, w in zip(got, want, strict=True)),
        "hint: layer i of L = 4 gets lr * decay ** (L + 1 - i); embeddings are layer 0, the head layer L + 1",
    )
    return True


def check_lora_parameter_count(answer) -> bool:
    """Exercise 3: trainable adapter parameters of LoRA r = 8 on ``query`` and ``value`` of all-MiniLM-L6-v2
    (6 layers, hidden size 384), head not counted."""
    expect(answer is not None, "assign your count to `answer`")
    want = 6 * 2 * 8 * (384 + 384)
    expect(int(answer) != 6 * 8 * (384 + 384), "close: two adapted matrices per layer (query and value)")
    expect(int(answer) != 6 * 2 * 384 * 384, "that is the frozen weights being adapted, not the adapters")
    expect(int(answer) == want, "hint: each adapted Linear adds A (r x in) and B (out x r): r * (in + out)")
    return True


def reference_lora(base: nn.Linear, a: torch.Tensor, b: torch.Tensor, scaling: float) -> nn.Module:
    """The package's LoRALinear with the given A and B (used by the chapter to compare an inline version)."""
    from mmtutorial.finetune import LoRALinear

    layer = LoRALinear(base, r=a.shape[0], alpha=scaling * a.shape[0])
    with torch.no_grad():
        layer.lora_A.weight.copy_(a)
        layer.lora_B.weight.copy_(b)
    return layer

"""Contrastive losses: hand-computed values, gradcheck, parity of impls, low precision, errors, memory."""

from __future__ import annotations

import math
import sys

import pytest
import torch
import torch.nn.functional as F

from mmtutorial import losses
from mmtutorial.losses import chunked, reference

LOSSES = ("clip", "siglip", "nt_xent")


def pair(n: int, d: int, *, dtype=torch.float32, seed: int = 0, noise: float = 0.7):
    """Normalised (n, d) pairs where b is a noisy copy of a (so the losses are neither 0 nor trivial)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=g, dtype=torch.float64)
    b = a + noise * torch.randn(n, d, generator=g, dtype=torch.float64)
    return F.normalize(a, dim=1).to(dtype), F.normalize(b, dim=1).to(dtype)


def call(kind: str, a, b, scale, bias, impl: str):
    if kind == "clip":
        return losses.clip_loss(a, b, scale, impl=impl)
    if kind == "siglip":
        return losses.siglip_loss(a, b, scale, bias, impl=impl)
    return losses.nt_xent_loss(a, b, 1 / scale, impl=impl)  # temperature = 1 / scale


def chunked_call(kind: str, a, b, scale, bias, chunk: int):
    if kind == "clip":
        return chunked.clip_loss(a, b, scale, chunk=chunk)
    if kind == "siglip":
        return chunked.siglip_loss(a, b, scale, bias, chunk=chunk)
    return chunked.nt_xent_loss(a, b, 1 / scale, chunk=chunk)


def reference_call(kind: str, a, b, scale, bias):
    if kind == "clip":
        return reference.clip_loss(a, b, scale)
    if kind == "siglip":
        return reference.siglip_loss(a, b, scale, bias)
    return reference.nt_xent_loss(a, b, 1 / scale)


def value_and_grads(fn, a, b, scale: float, bias: float, dtype=None):
    """Loss and gradients w.r.t. a, b, logit_scale, logit_bias (leaf copies of the inputs)."""
    dtype = dtype or (torch.float64 if a.dtype == torch.float64 else torch.float32)
    a = a.detach().clone().requires_grad_()
    b = b.detach().clone().requires_grad_()
    s = torch.tensor(scale, dtype=dtype, requires_grad=True)
    t = torch.tensor(bias, dtype=dtype, requires_grad=True)
    loss = fn(a, b, s, t)
    loss.backward()
    return loss.detach(), a.grad, b.grad, s.grad, (t.grad if t.grad is not None else torch.zeros(()))


# ---------------------------------------------------------------- hand-computed values
E = math.e


@pytest.mark.parametrize("impl", ["reference", "chunked"])
def test_hand_computed_identity_batch(impl):
    # a = b = I_2, s = 1: logits = I. Each CE row: log(e + 1) - 1 = log(1 + 1/e), both directions alike.
    a = torch.eye(2)
    assert losses.clip_loss(a, a, 1.0, impl=impl).item() == pytest.approx(math.log(1 + 1 / E), rel=1e-6)
    # SigLIP, t = 0: two diagonal terms -log sigmoid(1), two off-diagonal -log sigmoid(-0) = log 2; / N = 2
    want = (2 * math.log(1 + 1 / E) + 2 * math.log(2)) / 2
    assert losses.siglip_loss(a, a, 1.0, 0.0, impl=impl).item() == pytest.approx(want, rel=1e-6)
    # NT-Xent, tau = 1, 4 views: each row sees its twin (logit 1) and two orthogonal views (logit 0)
    assert losses.nt_xent_loss(a, a, 1.0, impl=impl).item() == pytest.approx(math.log(1 + 2 / E), rel=1e-6)


@pytest.mark.parametrize("impl", ["reference", "chunked"])
def test_hand_computed_single_pair(impl):
    # N = 1: softmax over one entry -> CLIP loss 0; SigLIP = -log sigmoid(s a.b + t);
    # NT-Xent = 0 (one candidate)
    a = torch.tensor([[0.6, 0.8]])
    b = torch.tensor([[1.0, 0.0]])
    assert losses.clip_loss(a, b, 5.0, impl=impl).item() == pytest.approx(0.0, abs=1e-7)
    want = -math.log(1 / (1 + math.exp(-(5 * 0.6 - 1))))
    assert losses.siglip_loss(a, b, 5.0, -1.0, impl=impl).item() == pytest.approx(want, rel=1e-6)
    assert losses.nt_xent_loss(a, b, 0.5, impl=impl).item() == pytest.approx(0.0, abs=1e-7)


def test_clip_gradient_is_softmax_minus_identity():
    a, b = pair(5, 4, dtype=torch.float64)
    logits = (3.0 * a @ b.T).requires_grad_()
    labels = torch.arange(5)
    loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    loss.backward()
    eye = torch.eye(5, dtype=torch.float64)
    want = (logits.softmax(1) - eye + logits.softmax(0) - eye) / (2 * 5)
    torch.testing.assert_close(logits.grad, want)
    assert loss.item() == pytest.approx(reference.clip_loss(a, b, torch.tensor(3.0)).item(), rel=1e-12)


# ---------------------------------------------------------------- fp64 gradcheck of the chunked Functions
@pytest.mark.parametrize("kind", LOSSES)
@pytest.mark.parametrize(("n", "d", "chunk"), [(5, 3, 2), (1, 2, 1), (4, 1, 3)])
def test_chunked_gradcheck(kind, n, d, chunk):
    a, b = pair(n, d, dtype=torch.float64, seed=n)
    a.requires_grad_()
    b.requires_grad_()
    s = torch.tensor(7.5, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(-2.0, dtype=torch.float64, requires_grad=True)
    if kind == "siglip":
        args, fn = (a, b, s, t), lambda a, b, s, t: chunked.siglip_loss(a, b, s, t, chunk=chunk)
    elif kind == "clip":
        args, fn = (a, b, s), lambda a, b, s: chunked.clip_loss(a, b, s, chunk=chunk)
    else:
        args, fn = (a, b, s), lambda a, b, tau: chunked.nt_xent_loss(a, b, tau, chunk=chunk)
    assert torch.autograd.gradcheck(fn, args)


def test_gradcheck_catches_a_wrong_backward():
    """The gradcheck above can fail: a Function whose backward drops the identity term is rejected."""

    class Wrong(chunked.ClipLossChunked):
        @staticmethod
        def backward(ctx, g):
            ga, gb, gs, _ = chunked.ClipLossChunked.backward(ctx, g)
            return ga * 1.01, gb, gs, None

    a, b = pair(4, 3, dtype=torch.float64)
    args = (
        a.requires_grad_(),
        b.requires_grad_(),
        torch.tensor(2.0, dtype=torch.float64, requires_grad=True),
    )
    assert not torch.autograd.gradcheck(lambda a, b, s: Wrong.apply(a, b, s, 3), args, raise_exception=False)


# ---------------------------------------------------------------- parity over the grid
SCALES_BIASES = ((1.0, 0.0), (14.3, -10.0), (100.0, 3.0))
# every (N, D) of the grid, each with one of the (scale, bias) settings in turn (the full cross product
# triples the time and adds nothing the rotation does not already cover across N and D)
GRID = [
    (n, d, *SCALES_BIASES[k % 3])
    for k, (n, d) in enumerate((n, d) for n in (1, 2, 7, 129, 1000) for d in (1, 3, 64, 257))
]


@pytest.mark.parametrize("kind", LOSSES)
@pytest.mark.parametrize(("n", "d", "scale", "bias"), GRID)
def test_parity_chunked_vs_reference_fp64(kind, n, d, scale, bias):
    """Exact maths: fp64, several blocks of a size that does not divide N."""
    a, b = pair(n, d, dtype=torch.float64, seed=n * 1000 + d)
    chunk = max(1, n // 3 + 1)
    want = value_and_grads(lambda a, b, s, t: reference_call(kind, a, b, s, t), a, b, scale, bias)
    got = value_and_grads(lambda a, b, s, t: chunked_call(kind, a, b, s, t, chunk), a, b, scale, bias)
    for name, g, w in zip(("loss", "grad a", "grad b", "grad scale", "grad bias"), got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-11, msg=lambda m, name=name: f"{name}: {m}")


FP32_GRID = [(n, d, s, t) for (n, d, s, t) in GRID if n in (7, 129, 1000)]


@pytest.mark.parametrize("kind", LOSSES)
@pytest.mark.parametrize(("n", "d", "scale", "bias"), FP32_GRID)
def test_parity_dispatcher_fp32(kind, n, d, scale, bias):
    """fp32 through the public API: each impl is as accurate as the reference.

    Truth is the fp64 reference on the same inputs; an impl's error on the loss and on every gradient
    must stay within 4x the fp32 reference's own error plus 1e-6 x the quantity's magnitude
    (sums over N^2 terms such as d loss / d scale cancel heavily, so a fixed tolerance would be arbitrary).
    """
    a, b = pair(n, d, seed=n + d)
    truth = value_and_grads(
        lambda a, b, s, t: call(kind, a, b, s, t, "reference"), a.double(), b.double(), scale, bias
    )
    ref = value_and_grads(lambda a, b, s, t: call(kind, a, b, s, t, "reference"), a, b, scale, bias)
    impls = ["chunked", "auto"]
    for impl in impls:
        got = value_and_grads(lambda a, b, s, t, i=impl: call(kind, a, b, s, t, i), a, b, scale, bias)
        for name, g, r, w in zip(
            ("loss", "grad a", "grad b", "grad scale", "grad bias"), got, ref, truth, strict=True
        ):
            assert g.dtype == torch.float32, (impl, name)
            err = float((g.double() - w).abs().max())
            ref_err = float((r.double() - w).abs().max())
            tol = 4 * ref_err + 1e-6 * max(1.0, float(w.abs().max()))
            assert err <= tol, (
                f"{impl} {name}: error {err:.3g} > {tol:.3g} (reference's own error {ref_err:.3g})"
            )


# ---------------------------------------------------------------- bf16 / fp16
# Stated tolerances. (1) Same rounded inputs, fp32 accumulation in both: agree to fp32 rounding
# (rtol 1e-5 on the loss; gradients, which come back in the low-precision dtype, within 1 ulp of it:
# bf16 2^-8, fp16 2^-11, relative to the largest entry). (2) Against the fp32 reference on the unrounded
# inputs the input rounding dominates: loss rtol 2e-2 (bf16) / 3e-3 (fp16), gradients atol 3e-2 / 5e-3 x max.
LOW = {torch.bfloat16: (2e-2, 3e-2, 2.0**-8), torch.float16: (3e-3, 5e-3, 2.0**-11)}


@pytest.mark.parametrize("kind", LOSSES)
@pytest.mark.parametrize("dtype", list(LOW))
@pytest.mark.parametrize("impl", ["reference", "chunked"])
def test_low_precision_against_fp32(kind, dtype, impl):
    loss_rtol, grad_atol, ulp = LOW[dtype]
    a32, b32 = pair(300, 48, seed=3)
    a, b = a32.to(dtype), b32.to(dtype)
    got = value_and_grads(lambda a, b, s, t: call(kind, a, b, s, t, impl), a, b, 20.0, -4.0)
    assert got[0].dtype == torch.float32 and got[1].dtype == dtype
    # (1) the same rounded inputs in fp32
    same = value_and_grads(
        lambda a, b, s, t: call(kind, a, b, s, t, "reference"), a.float(), b.float(), 20.0, -4.0
    )
    torch.testing.assert_close(got[0], same[0], rtol=1e-5, atol=1e-6)
    for g, w in zip(got[1:3], same[1:3], strict=True):
        torch.testing.assert_close(g.float(), w, rtol=0, atol=ulp * float(w.abs().max()))
    for g, w in zip(got[3:], same[3:], strict=True):  # sums of N^2 terms: fp32 summation order differs
        torch.testing.assert_close(g, w, rtol=1e-3, atol=1e-5)
    # (2) the fp32 reference on the unrounded inputs
    ref = value_and_grads(lambda a, b, s, t: call(kind, a, b, s, t, "reference"), a32, b32, 20.0, -4.0)
    torch.testing.assert_close(got[0], ref[0], rtol=loss_rtol, atol=0)
    for g, w in zip(got[1:], ref[1:], strict=True):
        torch.testing.assert_close(g.float(), w, rtol=0, atol=grad_atol * max(1.0, float(w.abs().max())))


# ---------------------------------------------------------------- scale / bias forms
def test_scale_as_float_and_as_tensor_of_other_dtype():
    a, b = pair(6, 4)
    s64 = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    loss = losses.clip_loss(a, b, s64, impl="chunked")
    assert loss.dtype == torch.float32 and loss.shape == ()
    loss.backward()
    assert s64.grad is not None and s64.grad.dtype == torch.float64
    assert loss.item() == pytest.approx(losses.clip_loss(a, b, 3.0, impl="reference").item(), rel=1e-6)


def test_auto_picks_reference_small_and_chunked_large(monkeypatch):
    calls = []
    real = chunked.clip_loss
    monkeypatch.setattr(chunked, "clip_loss", lambda *x, **k: calls.append(x[0].shape[0]) or real(*x, **k))
    a, b = pair(16, 4)
    losses.clip_loss(a, b, 2.0)  # small: reference
    assert calls == []
    n = losses.AUTO_CHUNKED_MIN_N
    a, b = pair(n, 2)
    losses.clip_loss(a, b, 2.0)
    assert calls == [n]


def test_triton_import_failure_is_reported(monkeypatch):
    """impl="triton" without an importable kernel module raises a RuntimeError that says why."""
    monkeypatch.setitem(sys.modules, "mmtutorial.losses.triton", None)  # makes the import fail
    a, b = pair(4, 4)
    with pytest.raises(RuntimeError, match="mmtutorial.losses.triton, which failed to import"):
        losses.clip_loss(a, b, 2.0, impl="triton")
    with pytest.raises(RuntimeError, match="failed to import"):
        losses.siglip_loss(a, b, 2.0, 0.0, impl="triton")
    # "auto" does not need the kernels: it falls back to the CPU choice
    assert torch.isfinite(losses.clip_loss(a, b, 2.0, impl="auto"))


# ---------------------------------------------------------------- errors
A, B = pair(4, 3)
BAD = [
    (lambda: losses.clip_loss(A[0], B, 1.0), "a must be 2-D"),
    (lambda: losses.clip_loss(A, B[0], 1.0), "b must be 2-D"),
    (lambda: losses.clip_loss(A, B[:3], 1.0), r"b must have shape \(4, 3\)"),
    (lambda: losses.clip_loss(A, B[:, :2], 1.0), r"b must have shape \(4, 3\)"),
    (lambda: losses.clip_loss(A[:0], B[:0], 1.0), r"a must hold at least one row"),
    (lambda: losses.clip_loss(A.long(), B.long(), 1.0), "a must be a floating-point tensor"),
    (lambda: losses.clip_loss(A, B.double(), 1.0), "b must have dtype torch.float32"),
    (lambda: losses.clip_loss(A.clone().fill_(float("nan")), B, 1.0), "a must hold only finite"),
    (lambda: losses.clip_loss(A, B.clone().fill_(float("inf")), 1.0), "b must hold only finite"),
    (lambda: losses.clip_loss(A, B, 0.0), "logit_scale must be a positive number, got 0.0"),
    (lambda: losses.clip_loss(A, B, -2.0), "logit_scale must be a positive"),
    (lambda: losses.clip_loss(A, B, float("inf")), "logit_scale must be a positive"),
    (
        lambda: losses.clip_loss(A, B, torch.ones(2)),
        r"logit_scale must be .* 0-dim floating tensor, got tensor",
    ),
    (lambda: losses.clip_loss(A, B, torch.tensor(2)), "logit_scale must be .* 0-dim floating"),
    (lambda: losses.clip_loss(A, B, "2"), "logit_scale must be .*, got str"),
    (lambda: losses.clip_loss(A, B, True), "logit_scale must be .*, got bool"),
    (lambda: losses.clip_loss(A, B, 1.0, impl="fast"), "impl must be one of"),
    (lambda: losses.siglip_loss(A, B, 1.0, float("nan")), "logit_bias must be a finite number"),
    (lambda: losses.siglip_loss(A, B, 1.0, None), "logit_bias must be a finite float"),
    (lambda: losses.nt_xent_loss(A, B, 0.0), "temperature must be a positive"),
    (lambda: losses.nt_xent_loss(A, B[:2], 0.1), r"z2 must have shape \(4, 3\)"),
    (lambda: losses.nt_xent_loss(A, B, 0.1, impl="triton"), "impl must be one of"),
    (lambda: losses.clip_loss(A, B.to("meta"), 1.0), "b must be on device cpu"),
    (lambda: losses.clip_loss(A, B, torch.tensor(1.0, device="meta")), "logit_scale must be on device cpu"),
]


@pytest.mark.parametrize(("fn", "match"), BAD)
def test_bad_input_raises_value_error_naming_it(fn, match):
    with pytest.raises(ValueError, match=match):
        fn()


# ---------------------------------------------------------------- memory: what is kept for backward
def saved_bytes(fn) -> int:
    """Bytes of the distinct tensors autograd saves for backward while running ``fn``."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


@pytest.mark.parametrize("kind", LOSSES)
def test_chunked_saves_only_inputs_and_linear_statistics(kind):
    n, d = 512, 8
    a, b = pair(n, d)
    a.requires_grad_()
    b.requires_grad_()
    s = torch.tensor(10.0, requires_grad=True)
    t = torch.tensor(-1.0, requires_grad=True)
    kept = saved_bytes(lambda: chunked_call(kind, a, b, s, t, 100))
    inputs = 2 * n * d * 4
    assert kept <= inputs + 2 * (2 * n) * 4 + 64  # inputs + at most two length-2N fp32 vectors + scalars
    assert kept < n * n * 4 / 10  # far from one N x N fp32 matrix
    # and the measurement can see O(N^2): the reference keeps N x N logits/softmax
    assert saved_bytes(lambda: reference_call(kind, a, b, s, t)) >= n * n * 4


# ---------------------------------------------------------------- the benchmark script runs
@pytest.mark.slow
def test_benchmark_script_runs_at_a_tiny_size():
    import subprocess

    out = subprocess.run(
        [sys.executable, "benchmarks/contrastive_loss.py", "--n", "64", "--d", "8", "--repeats", "1"]
        + ["--impls", "reference,chunked,infcl"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = out.stdout.splitlines()
    assert any(line.split()[:2] == ["reference", "64"] for line in lines)
    assert any(line.split()[:2] == ["chunked", "64"] and "runs=1" in line for line in lines)
    assert any("infcl" in line and "CUDA only" in line for line in lines)


def test_auto_keeps_fp64_off_the_fp32_kernels():
    from mmtutorial.losses.dispatch import _auto

    cuda = torch.device("cuda")
    assert _auto(cuda, 100, has_triton=True, dtype=torch.float64) == "reference"
    assert _auto(cuda, 5000, has_triton=True, dtype=torch.float64) == "chunked"
    assert _auto(cuda, 100, has_triton=True, dtype=torch.bfloat16) == "triton"
    assert _auto(torch.device("cpu"), 100, has_triton=True, dtype=torch.float32) == "reference"

"""The Triton kernels near convergence (p_ii -> 1) with 16-bit inputs: where rounding g to 16 bits bites.

The backward forms g_ij = 2N dLoss/dl_ij (CLIP) or N dLoss/dl_ij (SigLIP) and casts it to bf16/fp16 for
the tensor cores. On the diagonal g_ii = p_ii + p'_ii - 2 (CLIP) or sigmoid(l_ii) - 1 (SigLIP) is a small
difference near convergence; subtracting the 2 (or 1) after the cast loses it (bf16's spacing at 2 is 2^-6).
Under the interpreter the kernels round g exactly where the GPU casts it (tiles.round_16), so these CPU tests
see the GPU's rounding.

Inputs: b_i = cos(theta) a_i + sin(theta) n_i (n_i a unit vector orthogonal to a_i), s = 100, theta chosen so
that the median p_ii is ~0.97 or ~0.9995: for CLIP the softmax of row i at the diagonal, for SigLIP
sigmoid(l_ii) (bias -40, so that the negatives are confident too: at D = 64 random pairs reach S_ij ~ 0.35).
Ground truth: the reference in fp64 on the same 16-bit inputs. Measured: the median over rows of
|row error| / |row| for grad_a and grad_b, the relative error of the scale and bias gradients. Tolerances: the
reference's own error (fp32 compute, 16-bit output) plus half a unit roundoff of the dtype for the input
gradients (the rounding of g itself; subtracting after the cast gives 0.4-96% here); 1e-4 relative (or 10x the
reference's) for scale and bias.
"""

import pytest
import torch
import torch.nn.functional as F

import mmtutorial.losses.triton.launch as launch
from mmtutorial.losses import reference
from mmtutorial.losses.triton import clip_loss_triton, interpreter_active, siglip_loss_triton

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:triton.runtime.interpreter"),
    pytest.mark.skipif(not interpreter_active(), reason="TRITON_INTERPRET is off: CPU tensors cannot run"),
]

N, D, SCALE, BIAS = 160, 64, 100.0, -40.0
UNIT_ROUNDOFF = {torch.bfloat16: 2.0**-8, torch.float16: 2.0**-11}


def _pair(cos: float, dtype: torch.dtype, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = F.normalize(torch.randn(N, D, generator=g, dtype=torch.float64), dim=1)
    n = torch.randn(N, D, generator=g, dtype=torch.float64)
    n = F.normalize(n - (n * a).sum(1, keepdim=True) * a, dim=1)
    return a.to(dtype), (cos * a + (1 - cos**2) ** 0.5 * n).to(dtype)


def _median_pii(name: str, a: torch.Tensor, b: torch.Tensor) -> float:
    l = SCALE * a.double() @ b.double().T
    p = torch.softmax(l, dim=1).diagonal() if name == "clip" else torch.sigmoid(l.diagonal() + BIAS)
    return float(p.median())


def confident_pair(name: str, target: float, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(a, b, median p_ii) with median p_ii close to ``target`` (bisection on cos theta)."""
    lo, hi = 0.0, 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _median_pii(name, *_pair(mid, dtype)) < target else (lo, mid)
    a, b = _pair(hi, dtype)
    return a, b, _median_pii(name, a, b)


def _grads(fn, a, b, scalars):
    cd = torch.float64 if a.dtype == torch.float64 else torch.float32
    leaves = [a.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()]
    leaves += [torch.tensor(x, dtype=cd, requires_grad=True) for x in scalars]
    fn(*leaves).backward()
    return [x.grad.double() for x in leaves]


def _error(x: torch.Tensor, exact: torch.Tensor) -> float:
    if x.ndim == 0:
        return float((x - exact).abs() / exact.abs())
    return float(((x - exact).norm(dim=1) / exact.norm(dim=1)).median())


def errors(name: str, a: torch.Tensor, b: torch.Tensor) -> tuple[list[float], list[float]]:
    """(kernel errors, reference errors) against fp64 on the same inputs: grad a, grad b, scale (, bias)."""
    kern, ref = (
        (clip_loss_triton, reference.clip_loss)
        if name == "clip"
        else (siglip_loss_triton, reference.siglip_loss)
    )
    scalars = [SCALE] if name == "clip" else [SCALE, BIAS]
    exact = _grads(ref, a.double(), b.double(), scalars)
    k = [_error(x, e) for x, e in zip(_grads(kern, a, b, scalars), exact, strict=True)]
    r = [_error(x, e) for x, e in zip(_grads(ref, a, b, scalars), exact, strict=True)]
    return k, r


@pytest.mark.parametrize("path", ["fused", pytest.param("chunked", marks=pytest.mark.slow)])
@pytest.mark.parametrize("target", [0.97, 0.9995])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
@pytest.mark.parametrize("name", ["clip", "siglip"])
def test_every_gradient_near_convergence(name, dtype, target, path, monkeypatch):
    monkeypatch.setenv("MMTUTORIAL_TRITON_BWD", path)
    monkeypatch.setattr(launch, "GRAD_CHUNK_ROWS", 48)  # several chunks, the last one ragged
    a, b, pii = confident_pair(name, target, dtype)
    assert abs(pii - target) < 0.2 * (1 - target), pii  # the regime the test is about
    kern, ref = errors(name, a, b)
    names = ["grad a", "grad b", "grad scale", "grad bias"]
    for what, k, r in zip(names, kern, ref, strict=False):
        bound = r + UNIT_ROUNDOFF[dtype] / 2 if what in ("grad a", "grad b") else max(10 * r, 1e-4)
        assert k <= bound, (
            f"{name} {what}: median error {k:.2e} > {bound:.2e} (reference {r:.2e}, p_ii {pii})"
        )


@pytest.mark.parametrize("target", [0.97, 0.9995])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
@pytest.mark.parametrize("name", ["clip", "siglip"])
def test_loss_value_near_convergence(name, dtype, target):
    # r_i - l_ii is small where p_ii -> 1: the kernel forms both terms with the same fp32 rounding (base 2 for
    # CLIP: s * log2(e) * S_ii), so the difference cancels exactly. Bound: 2x the fp32 reference's own error
    # against fp64 on the same 16-bit inputs, at least 1e-6 relative.
    a, b, _ = confident_pair(name, target, dtype)
    kern, ref = (
        (clip_loss_triton, reference.clip_loss)
        if name == "clip"
        else (siglip_loss_triton, reference.siglip_loss)
    )
    scalars = [SCALE] if name == "clip" else [SCALE, BIAS]
    exact = ref(a.double(), b.double(), *(torch.tensor(x, dtype=torch.float64) for x in scalars))
    args = [torch.tensor(x) for x in scalars]
    k_err = float((kern(a, b, *args).double() - exact).abs() / exact.abs())
    r_err = float((ref(a, b, *args).double() - exact).abs() / exact.abs())
    assert k_err <= max(2 * r_err, 1e-6), (k_err, r_err)

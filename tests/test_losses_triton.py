"""The Triton kernels (impl="triton") against the readable reference: value and every gradient.

CPU tests run under Triton's interpreter (tests/conftest.py sets TRITON_INTERPRET=1 before anything imports
triton); the interpreter costs ~1 ms per program step, so sizes stay small but are never multiples of a block.
GPU tests (@pytest.mark.gpu) cover real sizes and are skipped without CUDA.
"""

import os
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F

import mmtutorial.losses.triton.clip_function as cf
from mmtutorial.losses import clip_loss, reference, siglip_loss
from mmtutorial.losses.triton import clip_loss_triton, interpreter_active, siglip_loss_triton

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:triton.runtime.interpreter")

interp = pytest.mark.skipif(
    not interpreter_active(), reason="TRITON_INTERPRET is off: CPU tensors cannot run"
)
cuda = pytest.mark.skipif(
    not torch.cuda.is_available() or interpreter_active(),
    reason="needs CUDA with TRITON_INTERPRET unset or 0",
)


def _inputs(n, d, dtype=torch.float32, device="cpu", seed=0, normalise=True):
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
    if normalise:
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    return a.to(device=device, dtype=dtype), b.to(device=device, dtype=dtype)


def _value_and_grads(fn, a, b, *scalars, upstream=1.0):
    leaves = [x.detach().clone().requires_grad_() for x in (a, b, *scalars)]
    loss = fn(*leaves)
    (loss * upstream).backward()
    return loss.detach(), [x.grad for x in leaves]


def _check(name, a, b, s, t=None, *, rtol=1e-5, grad_tol=1e-5, upstream=1.0):
    """Kernel vs fp32 reference on the same (maybe rounded) inputs: loss to rtol, grads to grad_tol*max."""
    scalars = (torch.tensor(s),) if name == "clip" else (torch.tensor(s), torch.tensor(t))
    scalars = tuple(x.to(a.device) for x in scalars)
    kern = clip_loss_triton if name == "clip" else siglip_loss_triton
    ref = reference.clip_loss if name == "clip" else reference.siglip_loss
    loss, grads = _value_and_grads(kern, a, b, *scalars, upstream=upstream)
    rloss, rgrads = _value_and_grads(ref, a.float(), b.float(), *scalars, upstream=upstream)
    assert loss.dtype == torch.float32 and loss.ndim == 0
    torch.testing.assert_close(loss, rloss, rtol=rtol, atol=rtol)
    for what, g, r in zip(["a", "b", "logit_scale", "logit_bias"][: len(grads)], grads, rgrads, strict=True):
        assert g.dtype == (a.dtype if what in "ab" else torch.float32), what
        scale = max(float(r.abs().max()), 1e-12)
        err = float((g.float() - r).abs().max())
        assert err <= grad_tol * scale + 1e-7, f"{name} grad {what}: max error {err:.3g} vs max {scale:.3g}"


SIZES = [(1, 1), (7, 3), (129, 257), (200, 33)]


@interp
@pytest.mark.parametrize("n,d", SIZES)
@pytest.mark.parametrize("name", ["clip", "siglip"])
def test_matches_reference_fp32(name, n, d):
    a, b = _inputs(n, d, seed=n + d)
    _check(name, a, b, 14.0, -5.0)


@interp
@pytest.mark.parametrize("name", ["clip", "siglip"])
def test_scales_biases_and_upstream_gradient(name):
    a, b = _inputs(70, 20, seed=3)
    for s, t in [(1.0, 0.0), (100.0, -10.0), (3.0, 4.0)]:
        _check(name, a, b, s, t, upstream=2.5)


@interp
def test_clip_large_logits_one_pass_to_the_edge_of_fp64_then_two_passes():
    # Column sums are added as 2^f * (sum in [1, 2 BLOCK_M)) in fp64 with f = floor(tile max of l / ln 2):
    # exact while |l| / ln 2 stays within one_pass_limit(N) (~1014 here, |l| ~ 700); beyond, a second pass.
    # Logits of several hundred carry fp32 rounding of ~1e-5 in both implementations: tolerance 1e-4.
    a, b = _inputs(50, 17, seed=4)
    b[7] = -a[0]  # column 7 is near -s everywhere: its sum is ~2^(-s / ln 2), at the low end of fp64
    b[7] = b[7] / b[7].norm()
    assert 690.0 * cf.LOG2E < cf.one_pass_limit(50) < 800.0 * cf.LOG2E
    for s in (300.0, 690.0, 800.0, 2000.0):
        _check("clip", a, b, s, grad_tol=1e-4)
        # against fp64 on the same inputs: the loss to 1e-6 relative; gradients to 2e-5 of their largest entry
        # (fp32 logits of magnitude |l| carry |l| * 6e-8 absolute rounding: 1.2e-4 at 2000, in each weight)
        exact = _value_and_grads(
            reference.clip_loss, a.double(), b.double(), torch.tensor(s, dtype=torch.float64)
        )
        kern = _value_and_grads(clip_loss_triton, a, b, torch.tensor(s))
        torch.testing.assert_close(kern[0].double(), exact[0], rtol=1e-6, atol=0)
        for g, e in zip(kern[1], exact[1], strict=True):
            assert float((g.double() - e).abs().max()) <= 2e-5 * float(e.abs().max()), s


@interp
def test_clip_second_pass_gives_the_same_columns(monkeypatch):
    # Force the second pass (columns as the rows of b a^T) at an ordinary scale: same loss and gradients.
    monkeypatch.setattr(cf, "one_pass_limit", lambda n: 0.0)
    a, b = _inputs(70, 20, seed=12)
    _check("clip", a, b, 14.0)


@interp
@pytest.mark.parametrize("dtype,rtol,grad_tol", [(torch.bfloat16, 1e-3, 2e-2), (torch.float16, 1e-3, 5e-3)])
@pytest.mark.parametrize("name", ["clip", "siglip"])
def test_half_inputs_against_fp32_reference(name, dtype, rtol, grad_tol):
    # Stated tolerances: loss within 1e-3 relative (fp32 accumulation); gradients come back in the 16-bit
    # dtype, within its rounding (bf16: 2e-2, fp16: 5e-3 of the largest entry).
    a, b = _inputs(90, 40, dtype=dtype, seed=6)
    _check(name, a, b, 20.0, -2.0, rtol=rtol, grad_tol=grad_tol)


@interp
@pytest.mark.parametrize("name", ["clip", "siglip"])
def test_non_contiguous_inputs(name):
    g = torch.Generator().manual_seed(7)
    a = torch.randn(60, 2 * 19, generator=g)[:, ::2]  # column stride 2
    b = torch.randn(19, 60, generator=g).T  # column-major
    assert not a.is_contiguous() and not b.is_contiguous()
    _check(name, a, b, 9.0, -1.0)


@interp
@pytest.mark.parametrize("name", ["clip", "siglip"])
def test_persistent_backward_with_fewer_programs_than_row_blocks(name, monkeypatch):
    # On a GPU the fused backward runs one program per 128 scratch rows of each SM, each taking several row
    # blocks; force that here: scratch for one program, which walks both row blocks (N=150, BLOCK_M=128).
    import mmtutorial.losses.triton.clip_function as cf
    import mmtutorial.losses.triton.siglip_function as sf

    monkeypatch.setenv("MMTUTORIAL_TRITON_BWD", "fused")
    monkeypatch.setattr(cf if name == "clip" else sf, "scratch_rows", lambda n, device: 128)
    a, b = _inputs(150, 9, seed=10)
    _check(name, a, b, 11.0, -4.0)


@interp
@pytest.mark.parametrize("name", ["clip", "siglip"])
def test_small_unequal_blocks(name, monkeypatch):
    # BLOCK_M != BLOCK_N, several column blocks (staggered start), D in three chunks, ragged everywhere.
    import mmtutorial.losses.triton.launch as launch

    monkeypatch.setattr(launch, "INTERPRETER_BLOCKS", (32, 16, 16))
    a, b = _inputs(45, 40, seed=11)
    _check(name, a, b, 12.0, -3.0)


@interp
@pytest.mark.parametrize("group", [1, 3])
@pytest.mark.parametrize("path", ["fused", "chunked"])
@pytest.mark.parametrize("name", ["clip", "siglip"])
def test_grouped_program_order(name, path, group, monkeypatch):
    # GROUP programs walk the column blocks in step (sharing B tiles in L2), groups start GROUP blocks apart:
    # 5 row blocks in groups of 3 (the last group short), 7 column blocks, any order must give the same sums.
    # The fused backward also with fewer persistent programs (2) than row blocks.
    import mmtutorial.losses.triton.clip_function as cfun
    import mmtutorial.losses.triton.launch as launch
    import mmtutorial.losses.triton.siglip_function as sfun

    monkeypatch.setenv("MMTUTORIAL_TRITON_BWD", path)
    monkeypatch.setattr(launch, "INTERPRETER_BLOCKS", (16, 16, 16))
    monkeypatch.setattr(launch, "INTERPRETER_GROUP", group)
    monkeypatch.setattr(cfun if name == "clip" else sfun, "scratch_rows", lambda n, device: 32)
    a, b = _inputs(77, 21, seed=13)
    _check(name, a, b, 12.0, -3.0)


@interp
def test_public_dispatcher_routes_to_the_kernel():
    a, b = _inputs(33, 5, seed=8)
    s, t = torch.tensor(7.0), torch.tensor(-1.5)
    torch.testing.assert_close(clip_loss(a, b, s, impl="triton"), reference.clip_loss(a, b, s))
    torch.testing.assert_close(siglip_loss(a, b, s, t, impl="triton"), reference.siglip_loss(a, b, s, t))


@interp
def test_only_requested_gradients_and_fp64_refused():
    a, b = _inputs(20, 8, seed=9)
    a.requires_grad_()
    s = torch.tensor(5.0)
    clip_loss_triton(a, b, s).backward()
    ref = a.detach().clone().requires_grad_()
    reference.clip_loss(ref, b, s).backward()
    torch.testing.assert_close(a.grad, ref.grad, rtol=1e-5, atol=1e-7)
    with pytest.raises(RuntimeError, match="fp32, bf16 and fp16"):
        clip_loss_triton(a.double(), b.double(), s)


def test_cpu_without_interpreter_says_what_to_do():
    code = textwrap.dedent(
        """
        import torch
        from mmtutorial.losses.triton import clip_loss_triton
        try:
            clip_loss_triton(torch.ones(2, 2), torch.ones(2, 2), torch.tensor(1.0))
        except RuntimeError as e:
            print("RAISED", e)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "RAISED" in out.stdout and "CUDA" in out.stdout and "TRITON_INTERPRET=1" in out.stdout


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("n,d", [(4097, 512), (8192, 768)])
@pytest.mark.parametrize("name", ["clip", "siglip"])
def test_gpu_real_sizes(name, n, d):
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 reference and kernel both in IEEE precision
    a, b = _inputs(n, d, device="cuda", seed=n)
    _check(name, a, b, 30.0, -10.0, rtol=1e-4, grad_tol=1e-4)
    a16, b16 = a.bfloat16(), b.bfloat16()
    _check(name, a16, b16, 30.0, -10.0, rtol=2e-3, grad_tol=3e-2)


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("path", ["fused", "chunked"])
def test_gpu_no_host_sync(path, monkeypatch):
    # CUDA's own detector: with sync debug mode "error" any host synchronisation raises. Warm-up first
    # (compilation and autotuning synchronise, once).
    monkeypatch.setenv("MMTUTORIAL_TRITON_BWD", path)
    a, b = _inputs(300, 40, device="cuda", seed=14)
    a.requires_grad_(True)
    s = torch.tensor(10.0, device="cuda", requires_grad=True)
    t = torch.tensor(-2.0, device="cuda", requires_grad=True)
    (clip_loss_triton(a, b, s) + siglip_loss_triton(a, b, s, t)).backward()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        total = clip_loss_triton(a, b, s) + siglip_loss_triton(a, b, s, t)
        total.backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(total).item()


@pytest.mark.slow
def test_gpu_check_runs_at_a_tiny_size_on_cpu():
    # The one-command GPU check, --tiny: the same script on the CPU under the interpreter (correctness
    # and benchmark steps, exit status 0 only if both pass). The sm_90 report: test_triton_sm90_compile.py.
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHON=sys.executable)
    out = subprocess.run(
        ["bash", str(root / "benchmarks" / "gpu_check.sh"), "--tiny"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "correctness: all OK" in out.stdout and "FAIL" not in out.stdout
    assert "gpu_check: PASS" in out.stdout and "triton (" in out.stdout and "chunked (tf32)" in out.stdout

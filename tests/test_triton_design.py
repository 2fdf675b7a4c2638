"""Design points of the Triton package that the value tests do not show: rounding emulation, the chunked
backward, the autotune key, the chunk-size rule, the scale check (CPU; under the interpreter where needed)."""

import pytest
import torch
import torch.nn.functional as F
import triton
import triton.language as tl

import mmtutorial.losses.triton.launch as launch
from mmtutorial.losses import reference
from mmtutorial.losses.triton import clip_loss_triton, interpreter_active, siglip_loss_triton
from mmtutorial.losses.triton.tiles import round_16

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:triton.runtime.interpreter")
interp = pytest.mark.skipif(
    not interpreter_active(), reason="TRITON_INTERPRET is off: CPU tensors cannot run"
)


@triton.jit
def _round_kernel(x_ptr, out_ptr, n, DTYPE: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs, mask=offs < n)
    tl.store(out_ptr + offs, round_16(x, DTYPE), mask=offs < n)


@interp
@pytest.mark.parametrize("dtype,tl_dtype", [(torch.bfloat16, tl.bfloat16), (torch.float16, tl.float16)])
def test_interpreter_rounds_to_16_bits_as_a_gpu_cast_does(dtype, tl_dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(400, generator=g) * 2, torch.rand(100, generator=g) * 1e-6])
    one = torch.tensor([1.0], dtype=dtype)
    ulp = float(torch.nextafter(one, torch.tensor([2.0], dtype=dtype)) - one)
    ties = torch.tensor([1 + ulp / 2, 1 + 3 * ulp / 2, 2 - ulp / 4, -(1 + ulp / 2)])  # ties go to even
    x = torch.cat([x, ties])
    out = torch.empty_like(x)
    _round_kernel[(1,)](x, out, x.numel(), DTYPE=tl_dtype, BLOCK=1024)
    torch.testing.assert_close(out, x.to(dtype).float(), rtol=0, atol=0)


def _grads(fn, a, b, *scalars):
    leaves = [x.detach().clone().requires_grad_() for x in (a, b, *scalars)]
    fn(*leaves).backward()
    return [x.grad.float() for x in leaves]


@interp
@pytest.mark.parametrize("name", ["clip", "siglip"])
def test_chunked_backward_matches_reference_with_ragged_chunks_and_strides(name, monkeypatch):
    monkeypatch.setenv("MMTUTORIAL_TRITON_BWD", "chunked")
    monkeypatch.setattr(launch, "GRAD_CHUNK_ROWS", 40)  # 4 chunks, the last one 11 rows
    monkeypatch.setattr(launch, "INTERPRETER_BLOCKS", (32, 16, 16))  # tiles ragged inside a chunk too
    g = torch.Generator().manual_seed(1)
    a = F.normalize(torch.randn(131, 2 * 21, generator=g)[:, ::2], dim=1)  # column stride 2
    b = F.normalize(torch.randn(21, 131, generator=g), dim=0).T  # column-major
    scalars = (torch.tensor(12.0),) if name == "clip" else (torch.tensor(12.0), torch.tensor(-3.0))
    kern, ref = (
        (clip_loss_triton, reference.clip_loss)
        if name == "clip"
        else (siglip_loss_triton, reference.siglip_loss)
    )
    for k, r in zip(_grads(kern, a, b, *scalars), _grads(ref, a, b, *scalars), strict=True):
        torch.testing.assert_close(k, r, rtol=1e-5, atol=1e-6)


@interp
@pytest.mark.parametrize("path", ["fused", "chunked"])
def test_only_the_scale_gradient(path, monkeypatch):
    monkeypatch.setenv("MMTUTORIAL_TRITON_BWD", path)
    g = torch.Generator().manual_seed(2)
    a, b = (F.normalize(torch.randn(37, 9, generator=g), dim=1) for _ in range(2))
    s, s_ref = torch.tensor(9.0, requires_grad=True), torch.tensor(9.0, requires_grad=True)
    clip_loss_triton(a, b, s).backward()
    reference.clip_loss(a, b, s_ref).backward()
    torch.testing.assert_close(s.grad, s_ref.grad, rtol=1e-5, atol=1e-7)


@interp
@pytest.mark.parametrize("bad", [-3.0, 0.0])
def test_direct_call_refuses_a_non_positive_scale(bad):
    a = F.normalize(torch.randn(8, 4), dim=1)
    with pytest.raises(ValueError, match="logit_scale must be positive"):
        clip_loss_triton(a, a, torch.tensor(bad))


@interp
def test_direct_call_refuses_scalars_on_another_device():
    a = F.normalize(torch.randn(8, 4), dim=1)
    meta = torch.tensor(2.0, device="meta")
    with pytest.raises(ValueError, match="logit_scale must be on the inputs' device cpu, got meta"):
        clip_loss_triton(a, a, meta)
    with pytest.raises(ValueError, match="logit_bias must be on the inputs' device cpu, got meta"):
        siglip_loss_triton(a, a, torch.tensor(2.0), meta)


def test_backward_rule_and_chunk_rows(monkeypatch):
    monkeypatch.delenv("MMTUTORIAL_TRITON_BWD", raising=False)
    monkeypatch.delenv("MMTUTORIAL_GRAD_CHUNK_MIB", raising=False)
    assert launch.backward_path(768) == "chunked" and launch.backward_path(256) == "fused"
    monkeypatch.setenv("MMTUTORIAL_TRITON_BWD", "fused")
    assert launch.backward_path(768) == "fused"
    assert launch.grad_chunk_rows(100, 768, 2) == 16  # the smallest chunk
    assert launch.grad_chunk_rows(10, 8, 2) == 10  # never more rows than N
    monkeypatch.setenv("MMTUTORIAL_GRAD_CHUNK_MIB", "512")  # a budget for the chunk alone, memory for speed
    assert launch.grad_chunk_rows(65536, 768, 2) == 4096
    assert launch.grad_chunk_rows(262144, 768, 2) == 1024


@pytest.mark.parametrize("n", [65_536, 262_144])
def test_chunked_backward_memory_plan_fits_the_target(n, monkeypatch):
    # The target: extra memory <= one fp32 (N, D) buffer + O(N) (1 KiB per row). The default chunk is the
    # largest power of two whose planned peak fits: 256 rows of bf16 at D = 768 (a 128 MiB chunk at 262,144).
    monkeypatch.delenv("MMTUTORIAL_GRAD_CHUNK_MIB", raising=False)
    d, elt = 768, 2
    rows = launch.grad_chunk_rows(n, d, elt)
    assert rows == 256
    planned = launch.chunked_backward_extra_bytes(n, d, rows, elt)
    allowed = launch.extra_bytes_allowed(n, d)
    assert allowed == 4 * n * d + 1024 * n
    assert (
        4 * n * d + rows * n * elt <= planned <= allowed
    )  # at least the gb buffer and the chunk, within target
    assert launch.chunked_backward_extra_bytes(n, d, 2 * rows, elt) > allowed  # the largest chunk that fits
    # a 512 MiB chunk (the former default: 4,096 rows at 65,536, 1,024 at 262,144) does not fit
    assert launch.chunked_backward_extra_bytes(n, d, 512 * 2**20 // (n * elt), elt) > allowed


def test_clip_forward_and_backward_never_read_a_device_value(monkeypatch):
    # On CUDA any .item(), float(), bool() or .tolist() of a device tensor makes the host wait for the GPU
    # (tests/test_losses_triton.py::test_gpu_no_host_sync checks it there). Here, on the CPU, the autograd
    # Functions must not call them at all (the entry points' CPU-only scale check is outside them).
    from mmtutorial.losses.triton.clip_function import ClipLossFunction
    from mmtutorial.losses.triton.siglip_function import SiglipLossFunction

    g = torch.Generator().manual_seed(3)
    a, b = (F.normalize(torch.randn(40, 12, generator=g), dim=1).requires_grad_() for _ in range(2))
    s, t = torch.tensor(10.0, requires_grad=True), torch.tensor(-2.0, requires_grad=True)
    with torch.no_grad():
        expected = reference.clip_loss(a, b, s) + reference.siglip_loss(a, b, s, t)

    def refuse(*args, **kwargs):
        raise AssertionError("a device value was read on the host")

    for path in ("fused", "chunked"):
        monkeypatch.setenv("MMTUTORIAL_TRITON_BWD", path)
        a.grad = b.grad = s.grad = None
        with monkeypatch.context() as m:
            for name in ("item", "tolist", "__float__", "__bool__", "__int__", "__index__"):
                m.setattr(torch.Tensor, name, refuse)
            loss = ClipLossFunction.apply(a, b, s) + SiglipLossFunction.apply(a, b, s, t)
            loss.backward()
        torch.testing.assert_close(loss.detach(), expected, rtol=1e-5, atol=1e-6)
        assert a.grad is not None and b.grad is not None and s.grad is not None and t.grad is not None
    with pytest.raises(AssertionError, match="device value"), monkeypatch.context() as m:
        m.setattr(torch.Tensor, "__float__", refuse)  # the check can fail: the entry point reads a CPU scale
        clip_loss_triton(a, b, s)


def test_autotune_key_is_bucketed():
    # One tuning per power of two of N (and per D, dtypes): batches of 60,000 and 65,536 share it.
    assert launch.bucket(60_000) == launch.bucket(65_536) == 65_536
    tuned = launch._tuned(launch_kernel(), "fwd", ("col_acc_ptr",), False)
    assert list(tuned.keys) == ["N_BUCKET", "D"]


def launch_kernel():
    from mmtutorial.losses.triton.clip_kernels import clip_fwd_kernel

    return clip_fwd_kernel


def test_g_scale_keeps_fp16_weights_normal():
    # Off-diagonal g ~ (1 - p_ii) / N: at p_ii = 0.9995 it is zero in fp16 from N = 65,536 on; times 2^14
    # it is a normal number there and still representable (subnormal, 0.2% steps) at N = 262,144.
    gs = launch.g_scale(torch.float16)
    for n in (65_536, 262_144):
        g = torch.tensor(5e-4 / n)
        assert g.half() == 0
        assert abs(float((g * gs).half()) / float(g * gs) - 1) < 3e-3
    assert float(torch.tensor(5e-4 / 65_536 * gs).half()) >= torch.finfo(torch.float16).tiny
    # ... and |g| <= 2 times it stays below fp16's max; bf16 and fp32 need no scaling.
    assert 2 * launch.g_scale(torch.float16) < torch.finfo(torch.float16).max
    assert launch.g_scale(torch.bfloat16) == launch.g_scale(torch.float32) == 1.0

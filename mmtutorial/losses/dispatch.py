"""One entry point per loss: check the inputs once, then hand them to the chosen implementation.

Implementations (every one gives the same value and the same gradients w.r.t. ``a``, ``b``,
``logit_scale`` and ``logit_bias``):

- ``"reference"``: :mod:`mmtutorial.losses.reference`, the readable definition; materialises ``N x N``.
- ``"chunked"``: :mod:`mmtutorial.losses.chunked`, streams row blocks with an online log-sum-exp;
  extra memory ``O(N * chunk)``.
- ``"triton"``: :mod:`mmtutorial.losses.triton` (fused kernels; CUDA, or CPU under ``TRITON_INTERPRET=1``).
  Imported lazily and called as ``clip_loss_triton(a, b, scale)`` / ``siglip_loss_triton(a, b, scale, bias)``
  with validated inputs and 0-dim scale/bias tensors on the inputs' device.
- ``"auto"``: on CUDA the Triton kernel when it imports (fp32/bf16/fp16 inputs), otherwise (and on CPU)
  ``"reference"`` while the ``N x N`` fp32 logits are small (``N < AUTO_CHUNKED_MIN_N = 2048``, under
  16 MiB of logits) and ``"chunked"`` from ``N >= 2048`` (for NT-Xent the matrix is ``2N x 2N``, so
  from ``2N >= 2048``).

Return value: a 0-dim **fp32** tensor for fp32, bf16 and fp16 inputs (accumulation is always fp32), and a
0-dim fp64 tensor for fp64 inputs. Gradients of ``a``/``b`` come back in the inputs' dtype.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mmtutorial._validate import check_choice, check_tensor, describe
from mmtutorial.losses import reference

IMPLS = ("auto", "reference", "chunked", "triton")
NT_XENT_IMPLS = ("auto", "reference", "chunked")
AUTO_CHUNKED_MIN_N = 2048  # from this batch size on, "auto" on CPU streams instead of building N x N


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _cast(value: float, dtype: torch.dtype) -> float:
    """``value`` rounded to ``dtype`` (fp32 or fp64) on the host, with numpy: no tensor, no device."""
    with np.errstate(over="ignore"):
        return float(np.float32(value)) if dtype == torch.float32 else float(np.float64(value))


def _values_checked(device: torch.device, check_values: bool | None) -> bool:
    """Whether to run the checks that read tensor values: by default everywhere but CUDA, where reading a
    value (``bool(isfinite(x).all())``, ``float(scale)``) makes the host wait for the GPU."""
    return device.type != "cuda" if check_values is None else bool(check_values)


def check_pair(
    name_a: str, a: object, name_b: str, b: object, *, check_values: bool | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check two ``(N, D)`` embedding batches: 2-D, N >= 1, D >= 1, same shape, dtype and device, with data
    (not the meta device); finite where ``check_values`` (default: not on CUDA, see ``_values_checked``)."""
    a = check_tensor(name_a, a, ndim=2, floating=True)
    if a.shape[0] == 0:
        raise ValueError(f"{name_a} must hold at least one row (N >= 1), got {describe(a)}")
    if a.shape[1] == 0:
        raise ValueError(f"{name_a} must hold at least one feature (D >= 1), got {describe(a)}")
    if a.is_meta:
        raise ValueError(f"{name_a} must hold data, got {describe(a)} (meta tensors have no values)")
    b = check_tensor(name_b, b, ndim=2, floating=True)
    check_tensor(name_b, b, shape=tuple(a.shape))
    check_tensor(name_b, b, dtype=a.dtype)
    check_tensor(name_b, b, device=a.device)
    if _values_checked(a.device, check_values):
        check_tensor(name_a, a, finite=True)
        check_tensor(name_b, b, finite=True)
    return a, b


def as_scalar(
    name: str,
    value: object,
    like: torch.Tensor,
    *,
    positive: bool,
    reciprocal: bool = False,
    check_values: bool | None = None,
) -> torch.Tensor:
    """A python number or 0-dim floating tensor -> 0-dim tensor in the compute dtype on ``like``'s device.

    The value is checked *after* the cast to the compute dtype (fp32 for fp32/bf16/fp16 inputs): ``1e39``
    is finite as a Python float but ``inf`` in fp32. ``positive`` demands value > 0; ``reciprocal`` also
    demands a finite ``1 / value`` (a temperature divides the logits). A Python number is checked on the
    host (free); a tensor's value only where ``check_values`` (default: not on CUDA). Tensors keep their
    autograd history (the cast is differentiable).
    """
    need = "a positive" if positive else "a finite"
    if isinstance(value, bool) or not isinstance(value, (int, float, torch.Tensor)):
        raise ValueError(f"{name} must be {need} float or a 0-dim floating tensor, got {describe(value)}")
    cd = _compute_dtype(like)
    if isinstance(value, torch.Tensor):
        if value.ndim != 0 or not value.is_floating_point():
            raise ValueError(f"{name} must be {need} float or a 0-dim floating tensor, got {describe(value)}")
        check_tensor(name, value, device=like.device)
        t = value.to(cd)
        if not _values_checked(like.device, check_values):
            return t
        v = float(t.detach())
    else:
        v = _cast(float(value), cd)  # the value as the compute dtype holds it (1e39 -> inf in fp32)
        t = torch.full((), v, dtype=cd, device=like.device)  # a fill kernel: no copy, no host wait
    if not math.isfinite(v) or (positive and v <= 0):
        got = value if isinstance(value, (int, float)) else v
        cast = "" if v == got else f" ({v!r} in {cd}, the compute dtype)"
        raise ValueError(f"{name} must be {need} number, got {got!r}{cast}")
    if reciprocal and not math.isfinite(_cast(1.0 / _cast(v, cd) if v else math.inf, cd)):
        raise ValueError(f"{name} must be {need} number with a finite 1/{name} in {cd}, got {v!r}")
    return t


def _auto(device: torch.device, n: int, has_triton: bool, dtype: torch.dtype = torch.float32) -> str:
    # The kernels accumulate in fp32, so fp64 inputs (e.g. gradcheck) keep the exact PyTorch paths.
    if has_triton and device.type == "cuda" and dtype != torch.float64:
        try:
            import mmtutorial.losses.triton  # noqa: F401
        except ImportError:
            pass
        else:
            return "triton"
    return "chunked" if n >= AUTO_CHUNKED_MIN_N else "reference"


def _triton_module():
    try:
        import mmtutorial.losses.triton as tri
    except ImportError as e:  # the kernels are optional: say why they cannot be used
        raise RuntimeError(
            f'impl="triton" needs mmtutorial.losses.triton, which failed to import: {e}'
        ) from e
    return tri


def run_clip(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor, impl: str) -> torch.Tensor:
    """CLIP loss of inputs already checked (``check_pair``, ``as_scalar``): no check, no host sync here."""
    if impl == "auto":
        impl = _auto(a.device, a.shape[0], has_triton=True, dtype=a.dtype)
    if impl == "reference":
        return reference.clip_loss(a, b, scale)
    if impl == "chunked":
        from mmtutorial.losses import chunked

        return chunked.clip_loss(a, b, scale)
    return _triton_module().clip_loss_triton(a, b, scale)


def run_siglip(
    a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor, impl: str
) -> torch.Tensor:
    """SigLIP loss of inputs already checked: no check, no host sync here."""
    if impl == "auto":
        impl = _auto(a.device, a.shape[0], has_triton=True, dtype=a.dtype)
    if impl == "reference":
        return reference.siglip_loss(a, b, scale, bias)
    if impl == "chunked":
        from mmtutorial.losses import chunked

        return chunked.siglip_loss(a, b, scale, bias)
    return _triton_module().siglip_loss_triton(a, b, scale, bias)


def run_nt_xent(z1: torch.Tensor, z2: torch.Tensor, tau: torch.Tensor, impl: str) -> torch.Tensor:
    """NT-Xent loss of inputs already checked: no check, no host sync here."""
    if impl == "auto":
        impl = _auto(z1.device, 2 * z1.shape[0], has_triton=False)
    if impl == "reference":
        return reference.nt_xent_loss(z1, z2, tau)
    from mmtutorial.losses import chunked

    return chunked.nt_xent_loss(z1, z2, tau)


def clip_loss(
    a: torch.Tensor, b: torch.Tensor, logit_scale, *, impl: str = "auto", check_values: bool | None = None
) -> torch.Tensor:
    """CLIP's symmetric InfoNCE loss of paired embeddings.

    ``loss = (CE(s * a @ b.T, diag) + CE(s * b @ a.T, diag)) / 2``, cross-entropy averaged over rows.

    Args:
        a, b: ``(N, D)`` paired embeddings, **L2-normalised by the caller** (row i of ``a`` matches row i of
            ``b``); same dtype (fp32, bf16, fp16 or fp64) and device.
        logit_scale: the multiplier ``s`` itself (already exponentiated, as in open_clip's ``ClipLoss``):
            a positive float or a 0-dim floating tensor (may require grad).
        impl: ``"auto"``, ``"reference"``, ``"chunked"`` or ``"triton"`` (see the module docstring).
        check_values: check that ``a``, ``b`` are finite and a tensor ``logit_scale`` is positive. Default
            ``None``: yes on CPU, no on CUDA (reading a value would make the host wait for the GPU; a
            non-finite input then gives a non-finite loss). Shapes, dtypes, devices and Python-number scales
            are always checked: that costs nothing.
    Returns:
        0-dim fp32 tensor (fp64 for fp64 inputs); accumulation is fp32 for bf16/fp16 inputs.
    Raises:
        ValueError: bad shapes, dtypes, devices, non-finite values or a non-positive scale.
        RuntimeError: ``impl="triton"`` when the kernels cannot run here (the message says why).
    """
    check_choice("impl", impl, IMPLS)
    a, b = check_pair("a", a, "b", b, check_values=check_values)
    scale = as_scalar("logit_scale", logit_scale, a, positive=True, check_values=check_values)
    return run_clip(a, b, scale, impl)


def siglip_loss(
    a: torch.Tensor,
    b: torch.Tensor,
    logit_scale,
    logit_bias,
    *,
    impl: str = "auto",
    check_values: bool | None = None,
) -> torch.Tensor:
    """SigLIP's pairwise sigmoid loss: ``-1/N * sum_ij log sigmoid(z_ij (s a_i.b_j + t))``, ``z = 2I - 1``.

    Args:
        a, b: ``(N, D)`` paired embeddings, L2-normalised by the caller; same dtype and device.
        logit_scale: positive float or 0-dim floating tensor ``s`` (the multiplier itself).
        logit_bias: finite float or 0-dim floating tensor ``t``.
        impl: ``"auto"``, ``"reference"``, ``"chunked"`` or ``"triton"``.
        check_values: as in :func:`clip_loss` (default: on CPU, not on CUDA).
    Returns:
        0-dim fp32 tensor (fp64 for fp64 inputs).
    """
    check_choice("impl", impl, IMPLS)
    a, b = check_pair("a", a, "b", b, check_values=check_values)
    scale = as_scalar("logit_scale", logit_scale, a, positive=True, check_values=check_values)
    bias = as_scalar("logit_bias", logit_bias, a, positive=False, check_values=check_values)
    return run_siglip(a, b, scale, bias, impl)


def nt_xent_loss(
    z1: torch.Tensor, z2: torch.Tensor, temperature, *, impl: str = "auto", check_values: bool | None = None
) -> torch.Tensor:
    """SimCLR's NT-Xent loss over ``2N`` views: each view must pick its twin among the other ``2N - 1``.

    Args:
        z1, z2: ``(N, D)`` embeddings of two augmented views of the same N samples, L2-normalised by the
            caller; same dtype and device.
        temperature: positive float or 0-dim floating tensor ``tau`` (logits are ``z_i . z_j / tau``);
            ``1 / tau`` must be finite in the compute dtype.
        impl: ``"auto"``, ``"reference"`` or ``"chunked"`` (no Triton kernel for this loss).
        check_values: as in :func:`clip_loss` (default: on CPU, not on CUDA).
    Returns:
        0-dim fp32 tensor (fp64 for fp64 inputs).
    """
    check_choice("impl", impl, NT_XENT_IMPLS)
    z1, z2 = check_pair("z1", z1, "z2", z2, check_values=check_values)
    tau = as_scalar("temperature", temperature, z1, positive=True, reciprocal=True, check_values=check_values)
    return run_nt_xent(z1, z2, tau, impl)

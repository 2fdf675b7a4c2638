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

import torch

from mmtutorial._validate import check_choice, check_tensor, describe
from mmtutorial.losses import reference

IMPLS = ("auto", "reference", "chunked", "triton")
NT_XENT_IMPLS = ("auto", "reference", "chunked")
AUTO_CHUNKED_MIN_N = 2048  # from this batch size on, "auto" on CPU streams instead of building N x N


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def check_pair(name_a: str, a: object, name_b: str, b: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Check two ``(N, D)`` embedding batches: 2-D, N >= 1, same shape, dtype and device, finite."""
    a = check_tensor(name_a, a, ndim=2, floating=True)
    if a.shape[0] == 0:
        raise ValueError(f"{name_a} must hold at least one row (N >= 1), got {describe(a)}")
    b = check_tensor(name_b, b, ndim=2, floating=True)
    check_tensor(name_b, b, shape=tuple(a.shape))
    check_tensor(name_b, b, dtype=a.dtype)
    check_tensor(name_b, b, device=a.device)
    check_tensor(name_a, a, finite=True)
    check_tensor(name_b, b, finite=True)
    return a, b


def as_scalar(name: str, value: object, like: torch.Tensor, *, positive: bool) -> torch.Tensor:
    """A python number or 0-dim floating tensor -> 0-dim tensor in the compute dtype on ``like``'s device.

    Tensors keep their autograd history (the cast is differentiable). ``positive`` demands value > 0.
    """
    need = "a positive" if positive else "a finite"
    if isinstance(value, bool) or not isinstance(value, (int, float, torch.Tensor)):
        raise ValueError(f"{name} must be {need} float or a 0-dim floating tensor, got {describe(value)}")
    cd = _compute_dtype(like)
    if isinstance(value, torch.Tensor):
        if value.ndim != 0 or not value.is_floating_point():
            raise ValueError(f"{name} must be {need} float or a 0-dim floating tensor, got {describe(value)}")
        check_tensor(name, value, device=like.device)
        v = float(value.detach())
        t = value.to(cd)
    else:
        v = float(value)
        t = torch.tensor(v, dtype=cd, device=like.device)
    if not math.isfinite(v) or (positive and v <= 0):
        raise ValueError(f"{name} must be {need} number, got {v!r}")
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


def clip_loss(a: torch.Tensor, b: torch.Tensor, logit_scale, *, impl: str = "auto") -> torch.Tensor:
    """CLIP's symmetric InfoNCE loss of paired embeddings.

    ``loss = (CE(s * a @ b.T, diag) + CE(s * b @ a.T, diag)) / 2``, cross-entropy averaged over rows.

    Args:
        a, b: ``(N, D)`` paired embeddings, **L2-normalised by the caller** (row i of ``a`` matches row i of
            ``b``); same dtype (fp32, bf16, fp16 or fp64) and device.
        logit_scale: the multiplier ``s`` itself (already exponentiated, as in open_clip's ``ClipLoss``):
            a positive float or a 0-dim floating tensor (may require grad).
        impl: ``"auto"``, ``"reference"``, ``"chunked"`` or ``"triton"`` (see the module docstring).
    Returns:
        0-dim fp32 tensor (fp64 for fp64 inputs); accumulation is fp32 for bf16/fp16 inputs.
    Raises:
        ValueError: bad shapes, dtypes, devices, non-finite values or a non-positive scale.
        RuntimeError: ``impl="triton"`` when the kernels cannot run here (the message says why).
    """
    check_choice("impl", impl, IMPLS)
    a, b = check_pair("a", a, "b", b)
    scale = as_scalar("logit_scale", logit_scale, a, positive=True)
    if impl == "auto":
        impl = _auto(a.device, a.shape[0], has_triton=True, dtype=a.dtype)
    if impl == "reference":
        return reference.clip_loss(a, b, scale)
    if impl == "chunked":
        from mmtutorial.losses import chunked

        return chunked.clip_loss(a, b, scale)
    return _triton_module().clip_loss_triton(a, b, scale)


def siglip_loss(
    a: torch.Tensor, b: torch.Tensor, logit_scale, logit_bias, *, impl: str = "auto"
) -> torch.Tensor:
    """SigLIP's pairwise sigmoid loss: ``-1/N * sum_ij log sigmoid(z_ij (s a_i.b_j + t))``, ``z = 2I - 1``.

    Args:
        a, b: ``(N, D)`` paired embeddings, L2-normalised by the caller; same dtype and device.
        logit_scale: positive float or 0-dim floating tensor ``s`` (the multiplier itself).
        logit_bias: finite float or 0-dim floating tensor ``t``.
        impl: ``"auto"``, ``"reference"``, ``"chunked"`` or ``"triton"``.
    Returns:
        0-dim fp32 tensor (fp64 for fp64 inputs).
    """
    check_choice("impl", impl, IMPLS)
    a, b = check_pair("a", a, "b", b)
    scale = as_scalar("logit_scale", logit_scale, a, positive=True)
    bias = as_scalar("logit_bias", logit_bias, a, positive=False)
    if impl == "auto":
        impl = _auto(a.device, a.shape[0], has_triton=True, dtype=a.dtype)
    if impl == "reference":
        return reference.siglip_loss(a, b, scale, bias)
    if impl == "chunked":
        from mmtutorial.losses import chunked

        return chunked.siglip_loss(a, b, scale, bias)
    return _triton_module().siglip_loss_triton(a, b, scale, bias)


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature, *, impl: str = "auto") -> torch.Tensor:
    """SimCLR's NT-Xent loss over ``2N`` views: each view must pick its twin among the other ``2N - 1``.

    Args:
        z1, z2: ``(N, D)`` embeddings of two augmented views of the same N samples, L2-normalised by the
            caller; same dtype and device.
        temperature: positive float or 0-dim floating tensor ``tau`` (logits are ``z_i . z_j / tau``).
        impl: ``"auto"``, ``"reference"`` or ``"chunked"`` (no Triton kernel for this loss).
    Returns:
        0-dim fp32 tensor (fp64 for fp64 inputs).
    """
    check_choice("impl", impl, NT_XENT_IMPLS)
    z1, z2 = check_pair("z1", z1, "z2", z2)
    tau = as_scalar("temperature", temperature, z1, positive=True)
    if impl == "auto":
        impl = _auto(z1.device, 2 * z1.shape[0], has_triton=False)
    if impl == "reference":
        return reference.nt_xent_loss(z1, z2, tau)
    from mmtutorial.losses import chunked

    return chunked.nt_xent_loss(z1, z2, tau)

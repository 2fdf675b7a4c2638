"""WiSE-FT (Wortsman et al. 2022): average the weights of the model before and after fine-tuning.

    θ(α) = (1 - α) · θ_zero-shot + α · θ_fine-tuned,   α in [0, 1]

Both endpoints come from the same pretrained network, so the straight line between them stays in a region
of low loss, and interior points often keep the robustness (OOD accuracy) of the start while gaining the
accuracy of the end. Without a zero-shot head (no text tower), the start is the linear-probe model.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch


def wise_ft(
    zero_shot: Mapping[str, torch.Tensor], finetuned: Mapping[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """The state dict ``(1 - alpha) · zero_shot + alpha · finetuned`` for floating tensors.

    Non-floating tensors (e.g. BatchNorm's ``num_batches_tracked``) must be equal in both and are copied.
    ``alpha = 0`` and ``alpha = 1`` return (copies of) the endpoints exactly. Raises ValueError if ``alpha``
    is outside [0, 1], the keys differ, shapes or dtypes differ, or a non-floating tensor differs.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    if set(zero_shot) != set(finetuned):
        only_z = sorted(set(zero_shot) - set(finetuned))[:5]
        only_f = sorted(set(finetuned) - set(zero_shot))[:5]
        raise ValueError(
            f"zero_shot and finetuned must have the same keys; only in zero_shot: {only_z}, "
            f"only in finetuned: {only_f}"
        )
    out = {}
    for key, z in zero_shot.items():
        f = finetuned[key]
        if z.shape != f.shape or z.dtype != f.dtype:
            raise ValueError(
                f"tensor {key!r} differs in shape/dtype: zero_shot {tuple(z.shape)} {z.dtype}, "
                f"finetuned {tuple(f.shape)} {f.dtype}"
            )
        if not z.is_floating_point():
            if not torch.equal(z, f.to(z.device)):
                raise ValueError(f"non-floating tensor {key!r} differs between zero_shot and finetuned")
            out[key] = z.clone()
        elif alpha == 0:
            out[key] = z.clone()
        elif alpha == 1:
            out[key] = f.clone()
        else:
            out[key] = torch.lerp(z, f.to(z.device), float(alpha))
    return out

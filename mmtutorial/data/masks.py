"""Where every shape is: pixel masks of a procedural scene, the ground truth of a pointing game.

Real datasets rarely say which pixels make an object; the procedural world knows exactly. A
:class:`~mmtutorial.data.world.Scene` keeps, for every shape, its box (``left``, ``top``, side ``px``) and its
per-frame displacement ``(dx, dy)``; :func:`~mmtutorial.data.world.shape_mask` gives the ``(px, px)``
boolean stencil the renderer pastes. Placing each stencil at its box rebuilds the masks with no re-rendering
and no guessing from pixel colours, and exactly as the renderer does (same rounding of the motion).

``object_masks(world, scene)`` -> ``(n_shapes, H, W)`` bool, one mask per shape, in ``scene.shapes`` order
(``[0]`` is the main shape, the one the labels describe); ``attribute_mask`` unions the shapes that carry an
attribute value (e.g. every red shape); ``grid_mask`` says which cells of a ``g x g`` token grid a mask
touches.
"""

from __future__ import annotations

import numpy as np
import torch

from mmtutorial._validate import check_positive, check_tensor
from mmtutorial.data.world import Scene, ShapesWorld, shape_mask


def _check_scene(world: object, scene: object) -> None:
    if not isinstance(world, ShapesWorld):
        raise ValueError(f"world must be a ShapesWorld, got {type(world).__name__}")
    if not isinstance(scene, Scene):
        raise ValueError(f"scene must be a Scene (world.scene(i)), got {type(scene).__name__}")


def object_masks(world: ShapesWorld, scene: Scene, frame: int = 0) -> torch.Tensor:
    """Boolean masks ``(n_shapes, H, W)`` of the shapes of ``scene`` at video frame ``frame`` (0 = image).

    ``masks[k]`` is True exactly where the renderer paints ``scene.shapes[k]``: the union over ``k`` equals
    the non-black pixels of ``world.render_image(scene)`` when the world has no pixel noise.
    """
    _check_scene(world, scene)
    n_frames = world.config.n_frames
    if not isinstance(frame, int) or not 0 <= frame < n_frames:
        raise ValueError(f"frame must be an int in [0, {n_frames}), got {frame!r}")
    size = world.config.image_size
    out = np.zeros((len(scene.shapes), size, size), dtype=bool)
    for k, s in enumerate(scene.shapes):
        # the same placement as ShapesWorld._paste: box corner + rounded displacement of this frame
        left = s.left + int(round(s.dx * frame))
        top = s.top + int(round(s.dy * frame))
        out[k, top : top + s.px, left : left + s.px] = shape_mask(s.shape, s.px)
    return torch.from_numpy(out)


def attribute_mask(
    world: ShapesWorld, scene: Scene, attribute: str, value: str, frame: int = 0
) -> torch.Tensor:
    """``(H, W)`` bool: union of the masks of the shapes whose ``attribute`` (shape/color/size) is ``value``.

    All False when no shape of the scene has that value.
    """
    if attribute not in ("shape", "color", "size"):
        raise ValueError(f"attribute must be one of ['shape', 'color', 'size'], got {attribute!r}")
    masks = object_masks(world, scene, frame)
    keep = torch.tensor([getattr(s, attribute) == value for s in scene.shapes])
    return masks[keep].any(dim=0) if bool(keep.any()) else torch.zeros(masks.shape[1:], dtype=torch.bool)


def grid_mask(mask: torch.Tensor, grid: int) -> torch.Tensor:
    """Cells of a ``grid x grid`` partition that a mask covers: ``(..., H, W)`` -> ``(..., grid, grid)``.

    A cell is True if any of its pixels is in ``mask`` (the ground truth for token-level maps such as the
    attention of a ``grid x grid`` patch encoder). ``H`` and ``W`` must be divisible by ``grid``.
    """
    check_tensor("mask", mask, dtype=torch.bool)
    check_positive("grid", grid)
    if mask.ndim < 2 or mask.shape[-1] % grid or mask.shape[-2] % grid:
        raise ValueError(
            f"mask must be (..., H, W) with H and W divisible by grid={grid}, got {tuple(mask.shape)}"
        )
    h, w = mask.shape[-2] // grid, mask.shape[-1] // grid
    cells = mask.reshape(*mask.shape[:-2], grid, h, grid, w)
    return cells.any(dim=-1).any(dim=-2)

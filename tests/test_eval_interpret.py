"""Saliency and Grad-CAM against captum, cross-attention maps against the fused output, the pointing game and
the object masks of the procedural world."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import LayerGradCam, Saliency
from torch import nn

from mmtutorial.data import ShapesWorld, WorldConfig
from mmtutorial.data.masks import attribute_mask, grid_mask, object_masks
from mmtutorial.eval.interpret import (
    cross_attention_maps,
    grad_cam,
    pointing_chance,
    pointing_game,
    saliency,
    upsample_map,
)
from mmtutorial.fusion import make_fusion
from mmtutorial.types import EncoderOutput, masked_mean


def small_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(6, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 5 * 5, 4),
    ).double()


@pytest.fixture
def images():
    return torch.rand(5, 3, 10, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


@pytest.mark.parametrize("target", [2, torch.tensor([0, 1, 2, 3, 1])])
def test_saliency_matches_captum(images, target):
    model = small_cnn().eval()
    ours = saliency(model, images, target)
    theirs = Saliency(model).attribute(images.clone().requires_grad_(True), target=target, abs=True)
    assert ours.shape == images.shape
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)
    assert ours.abs().sum() > 0


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("target", [1, torch.tensor([3, 0, 1, 2, 2])])
def test_grad_cam_matches_captum(images, target, relu):
    model = small_cnn().eval()
    layer = model[3]  # the second ReLU: (B, 8, 10, 10)
    ours = grad_cam(model, layer, images, target, relu=relu)
    theirs = LayerGradCam(model, layer).attribute(images, target=target, relu_attributions=relu)[:, 0]
    assert ours.shape == (5, 10, 10)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)
    torch.testing.assert_close(
        grad_cam(model, layer, images, target), torch.relu(grad_cam(model, layer, images, target, relu=False))
    )


def test_grad_cam_by_hand():
    # logit_c = sum_ij A_cij (sum pooling of a 2-channel map): d logit_c / d A is 1 on channel c and 0
    # elsewhere, so alpha = one-hot(c) and Grad-CAM of class c is ReLU(channel c)
    layer = nn.Identity()

    def f(x):
        return layer(x).sum(dim=(2, 3))

    x = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(grad_cam(f, layer, x, 1), torch.relu(x[:, 1]))
    torch.testing.assert_close(grad_cam(f, layer, x, 0, relu=False), x[:, 0])


def test_grad_cam_wrong_inputs(images):
    model = small_cnn().eval()
    with pytest.raises(ValueError, match="target"):
        grad_cam(model, model[3], images, 4)
    with pytest.raises(ValueError, match="feature map"):
        grad_cam(model, model[5], images, 0)  # Flatten: (B, 200), not a map
    with pytest.raises(ValueError, match="runs|ran"):
        grad_cam(model, nn.ReLU(), images, 0)  # not part of the model
    with pytest.raises(ValueError, match="target"):
        saliency(model, images, torch.tensor([0, 1]))


def test_upsample_keeps_constant_maps():
    m = torch.full((2, 3, 3), 0.5)
    up = upsample_map(m, 12)
    assert up.shape == (2, 12, 12)
    torch.testing.assert_close(up, torch.full((2, 12, 12), 0.5))


def test_pointing_game_by_hand():
    maps = torch.zeros(3, 6, 6)
    maps[0, 1, 1] = 1.0  # peak inside the object
    maps[1, 5, 5] = 1.0  # peak far from it
    maps[2, 3, 1] = 1.0  # peak two pixels below the object's edge
    masks = torch.zeros(3, 6, 6, dtype=torch.bool)
    masks[:, 0:2, 0:2] = True
    assert pointing_game(maps, masks).tolist() == [True, False, False]
    assert pointing_game(maps, masks, tolerance=2).tolist() == [True, False, True]
    assert pointing_chance(masks) == pytest.approx(4 / 36)
    assert pointing_chance(masks, tolerance=1) == pytest.approx(9 / 36)
    # ties: the first maximum in row-major order decides
    tie = torch.zeros(1, 6, 6)
    tie[0, 0, 0] = tie[0, 5, 5] = 1.0
    assert pointing_game(tie, masks[:1]).tolist() == [True]
    assert pointing_game(tie.flip(-1), masks[:1]).tolist() == [False]


def test_pointing_game_rejects_bad_input():
    maps = torch.rand(2, 4, 4)
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[0, 0, 0] = True
    with pytest.raises(ValueError, match="rows \\[1\\] are empty"):
        pointing_game(maps, masks)
    with pytest.raises(ValueError, match="masks"):
        pointing_game(maps, masks.float())
    with pytest.raises(ValueError, match="maps"):
        pointing_game(torch.full((2, 4, 4), float("nan")), masks)


def test_cross_attention_maps_rebuild_the_output():
    # with one head, h = out_proj(weights @ V): the maps must reproduce the fusion's output exactly
    torch.manual_seed(0)
    dims = {"image": 6, "audio": 5, "text": 4}
    fusion = make_fusion("cross_attention", dims, out_dim=3, hidden=8, heads=1).eval()
    inputs = {}
    for k, (m, d) in enumerate(dims.items()):
        tok = torch.randn(2, 3 + k, d)
        mask = torch.ones(2, 3 + k, dtype=torch.bool)
        mask[1, -1] = False
        inputs[m] = EncoderOutput(tok, mask, masked_mean(tok, mask))
    pooled = []
    for q in dims:
        maps = cross_attention_maps(fusion, inputs, q)
        assert list(maps) == [m for m in dims if m != q]
        w = torch.cat(list(maps.values()), dim=2)  # (B, T_q, T_ctx)
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:2]))
        for m, wm in maps.items():
            assert (wm[1, :, -1] == 0).all(), "padding gets no weight"
            assert wm.shape == (2, inputs[q].tokens.shape[1], inputs[m].tokens.shape[1])
        attn = fusion.attn[q]
        ctx = torch.cat([fusion.proj[m](inputs[m].tokens) for m in maps], dim=1)
        v = ctx @ attn.in_proj_weight[16:].T + attn.in_proj_bias[16:]
        h = attn.out_proj(w @ v)
        pooled.append(masked_mean(h, inputs[q].mask))
    torch.testing.assert_close(fusion.out(torch.cat(pooled, -1)), fusion(inputs))
    with pytest.raises(ValueError, match="query"):
        cross_attention_maps(fusion, inputs, "video")


def test_cross_attention_maps_with_a_missing_modality():
    torch.manual_seed(0)
    dims = {"image": 6, "audio": 5}
    fusion = make_fusion("cross_attention", dims, out_dim=3, hidden=8, heads=2)
    tok = torch.randn(2, 4, 6)
    maps = cross_attention_maps(
        fusion, {"image": EncoderOutput(tok, torch.ones(2, 4, dtype=torch.bool), tok.mean(1))}, "image"
    )
    assert maps["audio"].shape == (2, 4, 1)  # the learned missing token, weight 1
    torch.testing.assert_close(maps["audio"], torch.ones(2, 4, 1))


@pytest.mark.parametrize("frame", [0, 5])
def test_object_masks_are_the_painted_pixels(frame):
    world = ShapesWorld(WorldConfig(seed=3, image_size=48, min_shapes=1, max_shapes=3))
    for i in range(20):
        scene = world.scene(i)
        masks = object_masks(world, scene, frame)
        pixels = world.render_video(scene)[frame] if frame else world.render_image(scene)
        painted = torch.from_numpy(pixels.any(axis=-1))
        assert masks.shape == (len(scene.shapes), 48, 48)
        assert torch.equal(masks.any(0), painted)
        assert int(masks.sum(0).max()) == 1, "shapes never overlap"
        for k, s in enumerate(scene.shapes):  # every mask has its shape's colour in the image
            rgb = pixels[masks[k].numpy()]
            assert (rgb == np.array(world._rgb[s.color])).all()


def test_attribute_and_grid_masks():
    world = ShapesWorld(WorldConfig(seed=0, image_size=32, min_shapes=2, max_shapes=3))
    scene = world.scene(0)
    masks = object_masks(world, scene)
    c = scene.shapes[1].color
    want = masks[[s.color == c for s in scene.shapes]].any(0)
    assert torch.equal(attribute_mask(world, scene, "color", c), want)
    absent = next(x for x in world.config.colors if x not in {s.color for s in scene.shapes})
    assert not attribute_mask(world, scene, "color", absent).any()
    m = torch.zeros(1, 8, 8, dtype=torch.bool)
    m[0, 5, 1] = True
    assert grid_mask(m, 2).tolist() == [[[False, False], [True, False]]]
    with pytest.raises(ValueError, match="divisible"):
        grid_mask(m, 3)
    with pytest.raises(ValueError, match="frame"):
        object_masks(world, scene, frame=99)

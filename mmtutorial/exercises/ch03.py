"""Self-checks for chapter 03 (encoders). Each returns True or raises WrongAnswer with a hint."""

from __future__ import annotations

from collections.abc import Callable

import torch

from mmtutorial.exercises import expect

VIT_CONFIG = dict(image_size=32, patch=8, dim=32, depth=1, heads=4)


def check_vit_parameter_count(answer: int) -> bool:
    """``answer``: the number of parameters of ``ImageViT(**VIT_CONFIG)``, worked out by hand."""
    from mmtutorial.encoders import ImageViT, count_parameters

    truth = count_parameters(ImageViT(**VIT_CONFIG))
    expect(isinstance(answer, int), f"answer must be an int, got {type(answer).__name__}")
    expect(
        answer == truth,
        f"{answer} is not the parameter count. Add up: the patch conv (3*p*p*D weights + D biases), "
        "the class token (D), the positions ((N+1)*D), per block two LayerNorms (2D each), "
        "qkv (D*3D + 3D), the output projection (D*D + D), the MLP (D*4D + 4D + 4D*D + D), "
        "and the final LayerNorm (2D).",
    )
    return True


def check_num_frames(num_frames: Callable[[int], int]) -> bool:
    """``num_frames(n)``: how many log-mel frames of ``LogMel()`` (n_fft=400, hop=160, not centred) see only
    real samples of a clip of ``n`` samples."""
    from mmtutorial.encoders import LogMel

    logmel = LogMel(n_mels=16)
    for n in (400, 401, 559, 560, 1000, 16000, 23456):
        _, mask = logmel(torch.zeros(1, n), torch.tensor([n]))
        want, got = int(mask.sum()), num_frames(n)
        expect(got == want, f"for n={n} samples LogMel has {want} frames, num_frames gave {got}")
    return True


def check_masked_mean(masked_mean: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """``masked_mean(tokens (B, T, D), mask (B, T) bool) -> (B, D)``: the mean over real tokens only."""
    g = torch.Generator().manual_seed(3)
    tokens = torch.randn(4, 6, 5, generator=g)
    mask = torch.tensor(
        [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0], [1, 1, 0, 1, 0, 0]]
    ).bool()
    out = masked_mean(tokens, mask)
    expect(isinstance(out, torch.Tensor) and out.shape == (4, 5), "masked_mean must return a (B, D) tensor")
    for b in range(4):
        want = tokens[b][mask[b]].mean(0)
        expect(
            torch.allclose(out[b], want, atol=1e-5),
            f"row {b}: expected the mean of its {int(mask[b].sum())} real tokens; "
            "padded tokens must not count",
        )
    return True

"""Images ``(B, 3, H, W)``: a small CNN and a small Vision Transformer (ViT), both from scratch.

CNN: conv blocks halve the resolution; every spatial position of the last feature map ``(B, D, h, w)`` is a
token, so tokens are ``(B, h*w, D)`` and pooled is their mean (global average pooling).

ViT: a ``p x p`` conv with stride ``p`` cuts the image into ``(H/p)(W/p)`` patches and projects each to ``D``
(the same as flattening a patch and applying a Linear); a learned class token and learned positions
are added, then pre-norm Transformer blocks.
"""

from __future__ import annotations

import torch
from torch import nn

from mmtutorial._validate import check_choice, check_positive, check_tensor
from mmtutorial.encoders.base import EncoderOutput
from mmtutorial.encoders.common import TransformerStack, pool


def check_images(images: object, channels: int = 3, min_size: int = 1) -> torch.Tensor:
    """Check ``images`` is a float ``(B, C, H, W)`` batch with ``H, W >= min_size``, finite; return it.

    Finiteness is checked off CUDA only: there, reading the result would make the host wait for the GPU.
    """
    x = check_tensor("images", images, ndim=4, floating=True)
    if x.shape[1] != channels or x.shape[0] == 0 or min(x.shape[2:]) < min_size:
        raise ValueError(
            f"images must have shape (B>0, {channels}, H>={min_size}, W>={min_size}), got {tuple(x.shape)}"
        )
    return check_tensor("images", x, finite=x.device.type != "cuda")


class ConvBlock(nn.Sequential):
    """Conv3x3 -> BatchNorm -> ReLU -> Conv3x3 -> BatchNorm -> ReLU -> MaxPool2 (halves H and W)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )


class ImageCNN(nn.Module):
    """Small CNN: ``(B, 3, H, W) -> EncoderOutput`` with tokens ``(B, (H/2^n)(W/2^n), D)``, n = len(channels).

    ``channels`` lists the widths of the conv blocks; ``dim`` (default: the last width) is the token size.
    """

    def __init__(
        self, channels: tuple[int, ...] = (16, 32, 64), dim: int | None = None, in_channels: int = 3
    ):
        super().__init__()
        if not channels:
            raise ValueError("channels must list at least one width")
        widths = (in_channels, *channels)
        self.features = nn.Sequential(
            *(ConvBlock(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        )
        self.dim = dim or channels[-1]
        self.proj = nn.Identity() if self.dim == channels[-1] else nn.Linear(channels[-1], self.dim)
        self.in_channels, self.min_size = in_channels, 2 ** len(channels)

    def forward(self, images: torch.Tensor) -> EncoderOutput:
        x = check_images(images, self.in_channels, self.min_size)
        fmap = self.features(x)  # (B, C, h, w)
        tokens = self.proj(fmap.flatten(2).transpose(1, 2))  # (B, h*w, D): one token per position
        mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        return EncoderOutput(tokens, mask, tokens.mean(1))


class PatchEmbedding(nn.Module):
    """``(B, C, H, W) -> (B, (H/p)(W/p), D)``: a conv with kernel = stride = ``patch`` projects each patch."""

    def __init__(self, patch: int, dim: int, in_channels: int = 3) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class ImageViT(nn.Module):
    """Small ViT: ``(B, 3, S, S) -> EncoderOutput``, tokens ``(B, 1 + (S/p)^2, D)`` (slot 0 = class token).

    ``pooling="cls"`` takes the class token, ``"mean"`` the mean over all tokens.
    """

    def __init__(
        self,
        image_size: int = 64,
        patch: int = 8,
        dim: int = 64,
        depth: int = 2,
        heads: int = 4,
        pooling: str = "cls",
        in_channels: int = 3,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_positive("image_size", image_size)
        check_positive("patch", patch)
        check_choice("pooling", pooling, ("cls", "mean"))
        if image_size % patch:
            raise ValueError(
                f"image_size must be divisible by patch, got image_size={image_size}, patch={patch}"
            )
        self.image_size, self.patch, self.pooling, self.in_channels, self.dim = (
            image_size,
            patch,
            pooling,
            in_channels,
            dim,
        )
        n = (image_size // patch) ** 2
        self.patch_embedding = PatchEmbedding(patch, dim, in_channels)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.position = nn.Parameter(torch.zeros(1, n + 1, dim))
        nn.init.normal_(self.cls, std=0.02)
        nn.init.normal_(self.position, std=0.02)
        self.transformer = TransformerStack(dim, depth, heads, dropout=dropout)

    def forward(self, images: torch.Tensor) -> EncoderOutput:
        x = check_tensor("images", images, floating=True)
        s = self.image_size
        check_tensor("images", x, shape=(None, self.in_channels, s, s))
        if x.shape[0] == 0:
            raise ValueError("images must hold at least one image, got batch size 0")
        check_tensor("images", x, finite=x.device.type != "cuda")  # no host sync on CUDA
        patches = self.patch_embedding(x)  # (B, N, D)
        tokens = torch.cat([self.cls.expand(x.shape[0], -1, -1), patches], dim=1) + self.position
        mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        tokens = self.transformer(tokens, mask)
        return EncoderOutput(tokens, mask, pool(tokens, mask, self.pooling))

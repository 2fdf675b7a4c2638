"""Video ``(B, T, 3, H, W)``: a (2+1)D CNN and a frame encoder followed by a temporal Transformer.

(2+1)D convolution (Tran et al., 2018) factors a ``3x3x3`` space-time kernel into a ``1x3x3`` spatial conv and
a ``3x1x1`` temporal conv, with a non-linearity in between: fewer parameters than full 3-D, one more ReLU.

Frame encoder + temporal Transformer: a small image CNN turns each frame into a vector, then self-attention
across time (with learned time positions and a class token) relates the frames.

Clips of different lengths are padded to ``T`` frames and described by ``lengths`` ``(B,)``; padded frames
never reach a real frame's output (they are zeroed before each temporal conv, and masked in attention).
"""

from __future__ import annotations

import torch
from torch import nn

from mmtutorial._validate import check_choice, check_positive, check_tensor
from mmtutorial.encoders.base import EncoderOutput, masked_mean
from mmtutorial.encoders.common import TransformerStack, pool
from mmtutorial.encoders.image import ImageCNN


def check_video(videos: object, lengths: object | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Check ``videos`` ``(B, T, 3, H, W)`` float and ``lengths`` ``(B,)`` in ``[1, T]``; return them and the
    frame mask ``(B, T)``."""
    x = check_tensor("videos", videos, ndim=5, floating=True)
    b, t = x.shape[:2]
    if b == 0 or t == 0 or x.shape[2] != 3:
        raise ValueError(f"videos must have shape (B>0, T>0, 3, H, W), got {tuple(x.shape)}")
    if lengths is None:
        lengths = torch.full((b,), t, dtype=torch.long, device=x.device)
    lengths = check_tensor("lengths", lengths, shape=(b,))
    if lengths.is_floating_point() or int(lengths.min()) < 1 or int(lengths.max()) > t:
        raise ValueError(f"lengths must be integers in [1, T={t}], got {lengths.tolist()} ({lengths.dtype})")
    mask = torch.arange(t, device=x.device)[None, :] < lengths.to(x.device)[:, None]
    if x.device.type != "cuda" and not bool(torch.isfinite(x[mask]).all()):  # real frames only
        raise ValueError(
            f"videos must hold only finite values in their real frames, got NaN or inf in {tuple(x.shape)}"
        )
    return x, mask


class Conv2Plus1D(nn.Module):
    """Spatial ``1xkxk`` conv -> BN -> ReLU -> temporal ``kx1x1`` conv -> BN -> ReLU; ``(B, C, T, H, W)``."""

    def __init__(self, cin: int, cout: int, kernel: int = 3) -> None:
        super().__init__()
        p = kernel // 2
        self.spatial = nn.Sequential(
            nn.Conv3d(cin, cout, (1, kernel, kernel), padding=(0, p, p), bias=False),
            nn.BatchNorm3d(cout),
            nn.ReLU(inplace=True),
        )
        self.temporal = nn.Sequential(
            nn.Conv3d(cout, cout, (kernel, 1, 1), padding=(p, 0, 0), bias=False),
            nn.BatchNorm3d(cout),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        m = frame_mask[:, None, :, None, None].to(x.dtype)  # (B, 1, T, 1, 1)
        return self.temporal(self.spatial(x) * m) * m


class VideoCNN(nn.Module):
    """(2+1)D CNN: blocks of ``Conv2Plus1D`` + spatial 2x2 max-pool (time is kept at full rate).

    ``forward(videos (B, T, 3, H, W), lengths (B,) | None) -> EncoderOutput``: tokens ``(B, T, D)`` (one per
    frame: the spatial mean of the last feature map), pooled = mean over real frames.
    """

    def __init__(self, channels: tuple[int, ...] = (16, 32, 64)) -> None:
        super().__init__()
        if not channels:
            raise ValueError("channels must list at least one width")
        widths = (3, *channels)
        self.blocks = nn.ModuleList(Conv2Plus1D(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.pool = nn.MaxPool3d((1, 2, 2))
        self.dim = channels[-1]
        self.min_size = 2 ** len(channels)

    def forward(self, videos: torch.Tensor, lengths: torch.Tensor | None = None) -> EncoderOutput:
        x, mask = check_video(videos, lengths)
        if min(x.shape[-2:]) < self.min_size:
            raise ValueError(f"videos frames must be at least {self.min_size} px, got {tuple(x.shape)}")
        x = x.transpose(1, 2)  # (B, 3, T, H, W): Conv3d wants channels first
        for block in self.blocks:
            x = self.pool(block(x, mask))
        tokens = x.mean((-2, -1)).transpose(1, 2)  # (B, T, D)
        return EncoderOutput(tokens, mask, masked_mean(tokens, mask))


class VideoTransformer(nn.Module):
    """Per-frame ``ImageCNN`` -> ``(B, T, D)`` + learned time positions + class token -> Transformer (time).

    ``forward(videos (B, T, 3, H, W), lengths (B,) | None) -> EncoderOutput``: tokens ``(B, 1 + T, D)``,
    mask ``(B, 1 + T)``, pooled = class token (``"cls"``) or mean over real frames (``"mean"``).
    """

    def __init__(
        self,
        channels: tuple[int, ...] = (16, 32, 64),
        depth: int = 2,
        heads: int = 4,
        max_frames: int = 32,
        pooling: str = "cls",
    ) -> None:
        super().__init__()
        check_positive("max_frames", max_frames)
        check_choice("pooling", pooling, ("cls", "mean"))
        self.frame_encoder = ImageCNN(channels)
        dim = self.frame_encoder.dim
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.position = nn.Parameter(torch.zeros(1, max_frames + 1, dim))
        nn.init.normal_(self.cls, std=0.02)
        nn.init.normal_(self.position, std=0.02)
        self.transformer = TransformerStack(dim, depth, heads)
        self.max_frames, self.pooling, self.dim = max_frames, pooling, dim

    def forward(self, videos: torch.Tensor, lengths: torch.Tensor | None = None) -> EncoderOutput:
        x, mask = check_video(videos, lengths)
        b, t = x.shape[:2]
        if t > self.max_frames:
            raise ValueError(f"videos may have at most max_frames={self.max_frames} frames, got {t}")
        frames = self.frame_encoder(x.flatten(0, 1)).pooled.view(b, t, -1)  # (B, T, D)
        tokens = torch.cat([self.cls.expand(b, -1, -1), frames], dim=1) + self.position[:, : t + 1]
        mask = torch.cat([mask.new_ones(b, 1), mask], dim=1)
        tokens = self.transformer(tokens, mask)
        return EncoderOutput(tokens, mask, pool(tokens, mask, self.pooling))

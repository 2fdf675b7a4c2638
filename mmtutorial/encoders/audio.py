"""Audio: waveforms ``(B, L)`` at 16 kHz -> log-mel frames -> a CNN or a Transformer over frames.

Log-mel features (torchaudio): a short-time Fourier transform every ``hop`` samples over windows of ``n_fft``
samples, power summed into ``n_mels`` mel-spaced bands, then decibels ``10 log10(max(P, 1e-10))``, scaled to
roughly unit range by ``(dB + 40) / 20``.

Waveforms of different lengths are padded to one tensor and described by ``lengths``. Windows are not centred
(``center=False``), so frame ``t`` covers samples ``[t*hop, t*hop + n_fft)`` and a clip of ``n`` samples has
``(n - n_fft) // hop + 1`` frames that touch only real samples; later frames are masked. Both encoders keep
padded frames out of every real frame's computation, so padding a clip leaves its tokens and pooled unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from mmtutorial._validate import check_choice, check_positive, check_tensor
from mmtutorial.encoders.base import EncoderOutput, masked_mean
from mmtutorial.encoders.common import TransformerStack, pool


class LogMel(nn.Module):
    """Waveforms ``(B, L)`` (+ ``lengths`` ``(B,)``) -> log-mel ``(B, n_mels, F)``, frame mask ``(B, F)``."""

    def __init__(self, sample_rate: int = 16000, n_fft: int = 400, hop: int = 160, n_mels: int = 64) -> None:
        super().__init__()
        import torchaudio  # imported here: it takes seconds, and only audio needs it

        check_positive("sample_rate", sample_rate)
        check_positive("n_fft", n_fft)
        check_positive("hop", hop)
        check_positive("n_mels", n_mels)
        self.sample_rate, self.n_fft, self.hop, self.n_mels = sample_rate, n_fft, hop, n_mels
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, hop_length=hop, n_mels=n_mels, center=False, power=2.0
        )
        self.to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=None)  # element-wise

    def num_frames(self, lengths: torch.Tensor) -> torch.Tensor:
        """Frames that see only real samples: ``(n - n_fft) // hop + 1`` for each length ``n``."""
        return torch.div(lengths - self.n_fft, self.hop, rounding_mode="floor") + 1

    def forward(
        self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = check_tensor("waveforms", waveforms, ndim=2, floating=True, finite=True)
        b, n = x.shape
        if b == 0 or n < self.n_fft:
            raise ValueError(f"waveforms must be (B>0, L>={self.n_fft}) (one window), got {tuple(x.shape)}")
        if lengths is None:
            lengths = torch.full((b,), n, dtype=torch.long, device=x.device)
        check_tensor("lengths", lengths, shape=(b,))
        if lengths.is_floating_point() or int(lengths.min()) < self.n_fft or int(lengths.max()) > n:
            raise ValueError(
                f"lengths must be integers in [n_fft={self.n_fft}, L={n}], "
                f"got {lengths.tolist()} ({lengths.dtype})"
            )
        feats = (self.to_db(self.mel(x)) + 40.0) / 20.0  # (B, n_mels, F)
        frames = torch.arange(feats.shape[-1], device=x.device)
        mask = frames[None, :] < self.num_frames(lengths.to(x.device))[:, None]  # (B, F)
        return feats, mask


class AudioCNN(nn.Module):
    """Log-mel -> ``depth`` blocks of [Conv1d over time (mel bands as channels) -> BatchNorm -> GELU].

    ``forward(waveforms (B, L), lengths (B,) | None) -> EncoderOutput``: tokens ``(B, F, D)``, one per frame,
    pooled = mean over real frames. Padded frames are set to zero before every convolution, which is what
    the convolution's own zero padding shows a clip that ends there, so real frames never see padding.
    """

    def __init__(
        self, dim: int = 64, depth: int = 3, kernel: int = 5, n_mels: int = 64, sample_rate: int = 16000
    ) -> None:
        super().__init__()
        check_positive("depth", depth)
        if kernel % 2 == 0:
            raise ValueError(f"kernel must be odd (same-length output), got {kernel}")
        self.features = LogMel(sample_rate=sample_rate, n_mels=n_mels)
        widths = (n_mels, *([dim] * depth))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(a, b, kernel, padding=kernel // 2), nn.BatchNorm1d(b), nn.GELU())
            for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        self.dim = dim

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None) -> EncoderOutput:
        x, mask = self.features(waveforms, lengths)  # (B, n_mels, F), (B, F)
        m = mask[:, None, :].to(x.dtype)
        for block in self.blocks:
            x = block(x * m)  # zero the padded frames before each conv
        tokens = (x * m).transpose(1, 2)  # (B, F, D)
        return EncoderOutput(tokens, mask, masked_mean(tokens, mask))


class AudioTransformer(nn.Module):
    """Log-mel -> groups of ``frames_per_token`` frames, flattened and projected to ``D`` -> Transformer.

    ``forward(waveforms (B, L), lengths (B,) | None) -> EncoderOutput``: tokens ``(B, 1 + F // k, D)`` with a
    class token in slot 0; a group is real only if all its ``k`` frames are. Learned positions.
    """

    def __init__(
        self,
        dim: int = 64,
        depth: int = 2,
        heads: int = 4,
        frames_per_token: int = 4,
        n_mels: int = 64,
        max_tokens: int = 256,
        pooling: str = "cls",
        sample_rate: int = 16000,
    ) -> None:
        super().__init__()
        check_positive("frames_per_token", frames_per_token)
        check_positive("max_tokens", max_tokens)
        check_choice("pooling", pooling, ("cls", "mean"))
        self.features = LogMel(sample_rate=sample_rate, n_mels=n_mels)
        self.k, self.max_tokens, self.pooling, self.dim = frames_per_token, max_tokens, pooling, dim
        self.proj = nn.Linear(n_mels * frames_per_token, dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.position = nn.Parameter(torch.zeros(1, max_tokens + 1, dim))
        nn.init.normal_(self.cls, std=0.02)
        nn.init.normal_(self.position, std=0.02)
        self.transformer = TransformerStack(dim, depth, heads)

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None) -> EncoderOutput:
        x, mask = self.features(waveforms, lengths)  # (B, n_mels, F), (B, F)
        b, c, f = x.shape
        t = f // self.k
        if t == 0 or t > self.max_tokens:
            raise ValueError(
                f"waveforms give {f} frames = {t} tokens of {self.k} frames; "
                f"need 1..max_tokens={self.max_tokens}"
            )
        # (B, n_mels, t*k) -> (B, t, k*n_mels): each token sees k consecutive frames
        groups = x[:, :, : t * self.k].reshape(b, c, t, self.k).permute(0, 2, 3, 1).reshape(b, t, self.k * c)
        gmask = mask[:, : t * self.k].reshape(b, t, self.k).all(-1)
        tokens = torch.cat([self.cls.expand(b, -1, -1), self.proj(groups)], dim=1) + self.position[:, : t + 1]
        mask = torch.cat([gmask.new_ones(b, 1), gmask], dim=1)
        tokens = self.transformer(tokens, mask)
        return EncoderOutput(tokens, mask, pool(tokens, mask, self.pooling))

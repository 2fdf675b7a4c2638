"""Preset ``clip-emoji``: real emoji image-caption pairs, pretrained towers, trained heads (LiT style).

The towers are the package's offline pretrained encoders, frozen: EfficientNet-Lite0 (ImageNet) for the
images and all-MiniLM-L6-v2 for the captions. Their pooled features are computed once and cached in the run
folder (``features.pt``); training fits a residual MLP head on each side, the two projections and the
temperature (the LiT recipe: locked image and text features, trained heads).

Data: the 1914 OpenMoji emoji in a seeded order; the last ``n_test`` (500) are held out, never seen in
training, not even their names. Training pairs every training emoji, drawn in ``styles`` (colour and black
line art: two renderings), with every caption template (the name alone, "an emoji of ...", "..., a smileys &
emotion emoji", "..., from the face smiling emoji", ...). The test split is one colour image and one caption
per held-out emoji (the dataset's own seeded caption), so ``i2t_r1`` asks: which of 500 unseen captions
describes this picture? Chance is 1/500 = 0.002.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mmtutorial.cli.presets.base import Job
from mmtutorial.training import TensorDictDataset, TrainConfig, clip_objective, dist_info
from mmtutorial.types import EncoderOutput

NAME = "clip-emoji"


@dataclass
class Config(TrainConfig):
    """Training keys of :class:`~mmtutorial.training.TrainConfig` plus this preset's data and heads."""

    preset: str = NAME
    n_test: int = 500
    data_seed: int = 0
    render_size: int = 64
    encoder_size: int = 64
    styles: tuple[str, ...] = ("color", "outline")
    hidden: int = 512
    embed_dim: int = 256
    dropout: float = 0.1
    features: str = ""  # cache file of the frozen features (default: RUN/features.pt)
    loss_impl: str = "auto"
    steps: int = 800
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 40
    eval_every: int = 200
    threads: int = 2


class FeatureHead(nn.Module):
    """A trainable residual MLP over a frozen feature ``(B, D) -> EncoderOutput`` with pooled ``(B, D)``.

    ``y = LN(x) + W2 GELU(W1 LN(x))``: starts near the frozen feature and learns a correction.
    """

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dim = dim
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim)
        )

    def forward(self, x: torch.Tensor) -> EncoderOutput:
        h = self.norm(x)
        y = h + self.mlp(h)
        return EncoderOutput(y[:, None], torch.ones(len(y), 1, dtype=torch.bool, device=y.device), y)


def _compute_features(cfg: Config) -> dict:
    """Frozen features of every emoji (each style) and every caption template (minutes on a CPU)."""
    from mmtutorial.data.emoji import TEMPLATES, EmojiDataset, caption, render
    from mmtutorial.encoders import pretrained_image_encoder, pretrained_text_encoder
    from mmtutorial.finetune.freezing import extract_features

    base = EmojiDataset(style="color", size=cfg.render_size, seed=cfg.data_seed)
    records = base.records
    image_encoder = pretrained_image_encoder(cfg.encoder_size)
    images = {}
    for style in cfg.styles:
        pixels = torch.stack(
            [
                torch.from_numpy(render(r.char, style, cfg.render_size).copy()).permute(2, 0, 1)
                for r in records
            ]
        )  # uint8 (N, 3, S, S)
        images[style] = extract_features(image_encoder, pixels.split(128), disable=True)
    texts = [
        [
            t.format(name=r.name, group=r.group.lower(), subgroup=r.subgroup.replace("-", " "))
            for t in TEMPLATES
        ]
        for r in records
    ]
    flat = [c for cs in texts for c in cs]
    text = extract_features(
        pretrained_text_encoder(), [flat[i : i + 256] for i in range(0, len(flat), 256)], True
    )
    own = [caption(r, np.random.default_rng([cfg.data_seed, i])) for i, r in enumerate(records)]
    return {
        "image": images,
        "text": text.view(len(records), len(TEMPLATES), -1),
        "template_of_caption": torch.tensor([texts[i].index(c) for i, c in enumerate(own)]),
        "captions": own,
        "names": [r.name for r in records],
    }


def _features(cfg: Config, run_dir: Path | None) -> dict:
    path = Path(cfg.features) if cfg.features else (run_dir / "features.pt" if run_dir is not None else None)
    if path is not None and path.exists():
        return torch.load(path, weights_only=True)
    feats = _compute_features(cfg)
    if path is not None and dist_info().is_main:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(feats, tmp)
        tmp.replace(path)
    return feats


def build(cfg: Config, run_dir: str | Path | None = None, training: bool = True) -> Job:
    """Heads over cached frozen features; the dataset indexes (emoji, caption template, style)."""
    run_dir = Path(run_dir) if run_dir is not None else None
    feats = _features(cfg, run_dir)
    n = len(feats["names"])
    if not 0 < cfg.n_test < n:
        raise ValueError(f"n_test must be in [1, {n - 1}], got {cfg.n_test}")
    n_train = n - cfg.n_test
    img = torch.stack([feats["image"][s] for s in cfg.styles])  # (S, N, 1280)
    txt = feats["text"]  # (N, T, 384)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = _model(cfg, img.shape[-1], txt.shape[-1])
    n_t, n_s = txt.shape[1], len(cfg.styles)
    grid = torch.cartesian_prod(torch.arange(n_train), torch.arange(n_t), torch.arange(n_s))  # (rows, 3)
    train = TensorDictDataset({"emoji": grid[:, 0], "template": grid[:, 1], "style": grid[:, 2]})
    objective = partial(clip_objective, impl=cfg.loss_impl)

    def loss_fn(m: nn.Module, batch: dict) -> torch.Tensor:
        pairs = {
            "image": img[batch["style"], batch["emoji"]].to(batch["emoji"].device),
            "text": txt[batch["emoji"], batch["template"]].to(batch["emoji"].device),
        }
        return objective(m, pairs)

    test = torch.arange(n_train, n)

    def embed(m: nn.Module, split: str):
        rows = test if split == "test" else torch.arange(min(cfg.n_test, n_train))
        device = next(m.parameters()).device
        a = m.encode_a(feats["image"]["color"][rows].to(device))
        b = m.encode_b(txt[rows, feats["template_of_caption"][rows]].to(device))
        return a, b, [feats["captions"][i] for i in rows.tolist()]

    def images(split: str) -> torch.Tensor:
        from mmtutorial.data.emoji import EmojiDataset

        ds = EmojiDataset(style="color", size=cfg.render_size, seed=cfg.data_seed)
        rows = test if split == "test" else torch.arange(min(cfg.n_test, n_train))
        return torch.stack([ds[i]["image"] for i in rows.tolist()])

    return Job(model, train, loss_fn, embed, images)


def _model(cfg: Config, dim_image: int, dim_text: int) -> nn.Module:
    from mmtutorial.models import TwoTowerCLIP

    return TwoTowerCLIP(
        FeatureHead(dim_image, cfg.hidden, cfg.dropout),
        FeatureHead(dim_text, cfg.hidden, cfg.dropout),
        embed_dim=cfg.embed_dim,
    )

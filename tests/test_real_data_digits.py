"""scikit-learn handwritten digits as image-caption pairs: captions name the label, images are the digits."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

from mmtutorial.data.digits import DIGIT_NAMES, TEMPLATES, DigitsDataset, digit_caption, write_digits
from mmtutorial.data.disk import load_dataset


def digits_named(caption: str) -> set[int]:
    words = re.findall(r"[a-z]+|\d", caption)
    return {
        DIGIT_NAMES.index(w) if w in DIGIT_NAMES else int(w) for w in words if w in DIGIT_NAMES or w.isdigit()
    }


def test_every_caption_names_its_label_and_nothing_else():
    ds = DigitsDataset(size=16)
    assert len(ds) == 1797
    for i in range(len(ds)):
        assert digits_named(ds.caption(i)) == {int(ds.targets[i])}, (i, ds.caption(i))
    assert len({ds.caption(i) for i in range(len(ds))}) > 40  # several templates x ten digits


def test_caption_templates_and_checks():
    seen = {digit_caption(7, np.random.default_rng(s)) for s in range(200)}
    assert len(seen) == len(TEMPLATES) and "a handwritten seven" in seen and "the digit 7" in seen
    with pytest.raises(ValueError, match="digit"):
        digit_caption(10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="size"):
        DigitsDataset(size=0)


def test_images_are_the_bundled_digits_upsampled():
    ds = DigitsDataset(size=32, limit=50)
    s = ds[3]
    assert s["image"].shape == (3, 32, 32) and s["image"].dtype == torch.float32
    assert float(s["image"].min()) >= 0.0 and float(s["image"].max()) <= 1.0
    assert torch.equal(s["image"][0], s["image"][1]) and s["labels"] == {
        "digit": int(load_digits().target[3])
    }
    # averaging back down to 8x8 gives the original 8x8 image, up to the blur of bilinear upsampling
    back = F.adaptive_avg_pool2d(ds.images[:, :1], 8).flatten().numpy()
    original = (load_digits().images[:50] / 16.0).flatten()
    assert np.corrcoef(back, original)[0, 1] > 0.95


def test_images_match_labels():
    # a nearest-class-mean classifier on the images is far above chance (10%): pixels carry the label
    ds = DigitsDataset(size=16)
    x, y = ds.images[:, 0].flatten(1), ds.targets
    means = torch.stack([x[:900][y[:900] == d].mean(0) for d in range(10)])
    pred = torch.cdist(x[900:], means).argmin(1)
    assert (pred == y[900:]).float().mean() > 0.8


def test_writer_round_trip(tmp_path):
    assert write_digits(tmp_path / "d", size=24, seed=1, limit=10) == 10
    disk, ref = load_dataset(tmp_path / "d"), DigitsDataset(size=24, seed=1, limit=10)
    for i in range(10):
        assert disk[i]["caption"] == ref[i]["caption"] and disk[i]["labels"] == ref[i]["labels"]
        assert torch.allclose(disk[i]["image"], ref[i]["image"], atol=1 / 255)

"""Preset ``clip-emoji``: heads over cached frozen features, its splits, its feature cache, its features."""

from __future__ import annotations

import pytest
import torch

from mmtutorial.cli.presets import clip_emoji
from mmtutorial.cli.presets.base import eval_fn_for, retrieval_metrics

QUIET = dict(progress=False, tensorboard=False, plot=False)
N, T = 60, 3


@pytest.fixture
def keep_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def stand_in_cache(path, cfg: clip_emoji.Config, seed: int = 0) -> dict:
    """A small cache in the real layout: image features that carry a concept the captions carry too."""
    g = torch.Generator().manual_seed(seed)
    concept = torch.randn(N, 16, generator=g)
    to_text = torch.randn(16, 24, generator=g)
    image = {
        s: {name: concept @ torch.randn(16, 40, generator=g) + 0.1 * torch.randn(N, 40, generator=g)
            for name in cfg.image_features}
        for s in cfg.styles
    }  # fmt: skip
    feats = {
        "key": clip_emoji._extraction_key(cfg),
        "image": image,
        "text": (concept @ to_text)[:, None] + 0.1 * torch.randn(N, T, 24, generator=g),
        "template_of_caption": torch.randint(0, T, (N,), generator=g),
        "captions": [f"emoji {i}" for i in range(N)],
        "names": [f"emoji {i}" for i in range(N)],
    }
    torch.save(feats, path)
    return feats


def config(tmp_path, **kw) -> clip_emoji.Config:
    base = dict(
        n_test=20,
        hidden=32,
        embed_dim=16,
        dropout=0.0,
        steps=150,
        batch_size=32,
        warmup_steps=5,
        lr=3e-3,
        image_features=("last", "thumb2"),
        features=str(tmp_path / "features.pt"),
    )
    base.update(QUIET)
    return clip_emoji.Config(**{**base, **kw})


def test_heads_learn_to_retrieve_unseen_emoji(tmp_path, keep_threads):
    from mmtutorial.training import fit

    cfg = config(tmp_path)
    stand_in_cache(tmp_path / "features.pt", cfg)
    job = clip_emoji.build(cfg, tmp_path)
    assert len(job.train) == 40 * T * 2  # (emoji, template, style) of the 40 training emoji
    assert job.eval_split == "test"
    before = retrieval_metrics(*job.embed(job.model, "test"))
    fit(job.model, job.loss_fn, job.train, cfg)
    with torch.no_grad():
        after = retrieval_metrics(*job.embed(job.model.eval(), "test"))
    assert after["n_queries"] == 20, after
    assert after["i2t_r5"] > max(0.6, before["i2t_r5"] + 0.2), (before, after)  # unseen emoji: chance 0.25


def test_validation_split_is_carved_from_training_emoji(tmp_path):
    cfg = config(tmp_path, n_val=10)
    feats = stand_in_cache(tmp_path / "features.pt", cfg)
    job = clip_emoji.build(cfg, tmp_path)
    assert len(job.train) == 30 * T * 2  # 60 - 20 test - 10 validation emoji train
    rows = job.train.__getitems__(list(range(len(job.train))))
    assert set(rows["emoji"].tolist()) == set(range(30))  # no validation or test emoji among them
    assert job.eval_split == "val"
    _, _, val_caps = job.embed(job.model, "val")
    _, _, test_caps = job.embed(job.model, "test")
    assert val_caps == feats["captions"][30:40] and test_caps == feats["captions"][40:]
    assert set(eval_fn_for(job)(job.model)) == {"i2t_r1", "i2t_r5", "t2i_r1", "t2i_r5"}
    with pytest.raises(ValueError, match="n_val"):
        clip_emoji.build(config(tmp_path, n_val=40), tmp_path)
    no_val = clip_emoji.build(config(tmp_path), tmp_path)
    with pytest.raises(ValueError, match="split"):
        no_val.embed(no_val.model, "val")


def test_training_rows_alone_set_the_standardisation(tmp_path):
    """Changing the held-out emoji's features must not change any training emoji's input."""
    cfg = config(tmp_path, n_val=10)
    feats = stand_in_cache(tmp_path / "features.pt", cfg)
    a = clip_emoji.standardised_image_features(feats, cfg, torch.arange(30))
    for s in cfg.styles:
        for name in cfg.image_features:
            feats["image"][s][name][30:] *= 100.0
    b = clip_emoji.standardised_image_features(feats, cfg, torch.arange(30))
    assert torch.equal(a["color"][:30], b["color"][:30])
    assert not torch.allclose(a["color"][30:], b["color"][30:])
    ref = torch.cat([a[s][:30] for s in cfg.styles])
    # each block centred, mean square 1 on the training emoji
    for k in range(len(cfg.image_features)):
        block = ref[:, 40 * k : 40 * (k + 1)]
        assert block.mean(0).abs().max() < 1e-4
        assert block.pow(2).mean().item() == pytest.approx(1.0, rel=1e-4)


def test_a_cache_from_other_settings_is_not_reused(tmp_path, monkeypatch):
    cfg = config(tmp_path)
    stand_in_cache(tmp_path / "features.pt", cfg)
    calls = []

    def fake_compute(c):
        calls.append((c.encoder_size, c.image_features))
        return {"key": clip_emoji._extraction_key(c), "marker": 1}

    monkeypatch.setattr(clip_emoji, "_compute_features", fake_compute)
    assert "marker" not in clip_emoji._features(cfg, tmp_path)  # same settings: the cache is used
    subset = config(tmp_path, image_features=("thumb2",))
    assert "marker" not in clip_emoji._features(subset, tmp_path)  # a subset of the cached features too
    assert calls == []
    missing = config(tmp_path, image_features=("last", "block3"))
    assert clip_emoji._features(missing, tmp_path)["marker"] == 1
    other = config(tmp_path, encoder_size=64)
    assert clip_emoji._features(other, tmp_path)["marker"] == 1
    assert calls == [(128, ("last", "block3")), (64, ("last", "thumb2"))]
    saved = torch.load(tmp_path / "features.pt", weights_only=True)
    assert saved["key"]["encoder_size"] == 64  # rewritten under the new settings


@pytest.mark.parametrize("bad", ["block16", "thumb0", "pool", "block"])
def test_unknown_image_features_are_refused(bad):
    with pytest.raises(ValueError, match="image_features"):
        clip_emoji.check_image_features(("last", bad))


def test_image_features_of_the_pretrained_encoder():
    from mmtutorial.encoders import pretrained_image_encoder

    pixels = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    names = ("last", "block10", "block13", "thumb8", "logits")
    out = clip_emoji.image_features(pretrained_image_encoder(64), pixels, names)
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "last": (2, 1280), "block10": (2, 112), "block13": (2, 192), "thumb8": (2, 192), "logits": (2, 1000)
    }  # fmt: skip
    # the thumbnail is the picture averaged over 8x8 cells, channel-major
    assert torch.allclose(out["thumb8"][0, 0], pixels[0, 0, :8, :8].float().mean() / 255)
    assert torch.isfinite(torch.cat(list(out.values()), 1)).all()
    # hooks are removed: a second call with fewer names sees no stale taps
    again = clip_emoji.image_features(pretrained_image_encoder(64), pixels, ("last",))
    assert torch.equal(again["last"], out["last"])

"""Fusion benchmark tasks: construction, no single-modality shortcut, training lessons, robustness."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import chi2_contingency

from mmtutorial.fusion_tasks import (
    FusionClassifier,
    evaluate,
    make_task,
    noise_auc,
    robustness,
    train_fusion,
    unimodal_baseline,
)

# Tiny modules: one thread avoids thread-pool overhead on a busy machine (conftest.one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def match():
    return make_task("match", n_train=800, n_test=400, seed=0)


@pytest.fixture(scope="module")
def color():
    return make_task("color", n_train=400, n_test=200, seed=0)


def test_shapes_and_labels(match, color):
    assert match.n_classes == 2 and color.n_classes == 6
    for task, n in ((match, 800), (color, 400)):
        tok, mask = task.features["train"]["image"]
        assert tok.shape == (n, 4, 32) and mask.shape == (n, 4) and mask.all()
        assert task.features["train"]["audio"][0].shape == (n, 4, 24)
        assert task.labels["train"].shape == (n,)
    assert abs(int(match.labels["train"].sum()) - 400) <= 6  # balanced (to one row per colour)
    assert set(color.labels["train"].tolist()) == set(range(6))


def test_pairs_follow_the_definition(match):
    world = match.meta["world"]
    for split in ("train", "test"):
        img, aud = match.meta["pairs"][split]
        y = match.labels[split].numpy()
        assert np.all(img[y == 1] == aud[y == 1])
        col = lambda i: world.scene(int(i)).main.color
        assert all(col(i) != col(j) for i, j in zip(img[y == 0], aud[y == 0], strict=True))
        lo, hi = (0, 800) if split == "train" else (800, 1200)
        assert (
            img.min() >= lo and img.max() < hi and aud.min() >= lo and aud.max() < hi
        )  # no leak across splits


def test_each_modality_alone_is_independent_of_the_match_label(match):
    """The audio colour (and the image colour) has the same distribution among positives and negatives."""
    world = match.meta["world"]
    img, aud = match.meta["pairs"]["train"]
    y = match.labels["train"].numpy()
    colors = world.config.colors
    for idx in (img, aud):
        c = np.array([colors.index(world.scene(int(i)).main.color) for i in idx])
        table = np.stack([np.bincount(c[y == k], minlength=6) for k in (0, 1)])
        assert chi2_contingency(table).pvalue > 0.05, table
    # the image colour is balanced exactly within every class
    c = np.array([colors.index(world.scene(int(i)).main.color) for i in img])
    assert np.abs(np.bincount(c[y == 1], minlength=6) - np.bincount(c[y == 0], minlength=6)).max() <= 1


def test_features_are_deterministic():
    a, b = (
        make_task("color", n_train=50, n_test=20, seed=1),
        make_task("color", n_train=50, n_test=20, seed=1),
    )
    c = make_task("color", n_train=50, n_test=20, seed=2)
    assert torch.equal(a.features["test"]["audio"][0], b.features["test"]["audio"][0])
    assert not torch.equal(a.features["test"]["audio"][0], c.features["test"]["audio"][0])
    # train and test noise are drawn independently
    assert not torch.equal(a.features["train"]["image"][0][:20], a.features["test"]["image"][0])


def test_inputs_drop_and_noise(color):
    x = color.inputs("test", slice(0, 10))
    assert x["image"].tokens.shape == (10, 4, 32)
    torch.testing.assert_close(x["audio"].pooled, x["audio"].tokens.mean(1))
    d = color.inputs("test", slice(0, 10), drop=["audio"])
    assert d["audio"] is None and torch.equal(d["image"].tokens, x["image"].tokens)
    n = color.inputs("test", slice(0, 10), noise={"audio": 2.0}, generator=torch.Generator().manual_seed(0))
    assert torch.equal(n["image"].tokens, x["image"].tokens)
    diff = (n["audio"].tokens - x["audio"].tokens).std().item()
    assert 1.7 < diff < 2.3
    with pytest.raises(ValueError, match="split"):
        color.inputs("val")


def test_errors():
    with pytest.raises(ValueError, match="kind"):
        make_task("xor")
    with pytest.raises(ValueError, match="n_train"):
        make_task("match", n_train=0)
    with pytest.raises(ValueError, match="modality"):
        unimodal_baseline(make_task("color", n_train=20, n_test=10), "video")


def test_the_lesson_late_concat_fails_interaction_while_products_solve_it(match):
    """The chapter's central claim at a small size: additive fusion is at chance, multiplicative is not."""
    late = train_fusion("late_concat", match, epochs=8)
    prod = train_fusion("elementwise", match, epochs=8)
    assert late.accuracy < 0.6, late.accuracy
    assert prod.accuracy > 0.75, prod.accuracy
    assert late.params > 0 and late.seconds > 0
    assert isinstance(prod.model, FusionClassifier)
    for m in ("image", "audio"):
        assert unimodal_baseline(match, m, epochs=8) < 0.6


def test_single_modality_task_is_easy(color):
    r = train_fusion("late_concat", color, epochs=8)
    assert r.accuracy > 0.9
    assert unimodal_baseline(color, "audio", epochs=8) > 0.9


def test_training_is_deterministic(color):
    a = train_fusion("gmu", color, epochs=1, seed=3)
    b = train_fusion("gmu", color, epochs=1, seed=3)
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_noise_auc():
    assert noise_auc([0, 1, 2], [1, 1, 1]) == pytest.approx(1.0)
    assert noise_auc([0, 2], [1, 0]) == pytest.approx(0.5)
    assert noise_auc([0, 1, 3], [1.0, 0.5, 0.5]) == pytest.approx((0.75 + 1.0) / 3)
    with pytest.raises(ValueError, match="levels"):
        noise_auc([1, 0], [0.5, 0.5])
    with pytest.raises(ValueError, match="levels"):
        noise_auc([0, 1], [0.5])


def test_robustness_tables(color):
    models = {n: train_fusion(n, color, epochs=3, modality_dropout=0.3).model for n in ("late_concat", "gmu")}
    curve, summary = robustness(models, color, "audio", levels=(0.0, 2.0, 8.0))
    assert list(curve.columns) == ["fusion", "noise", "accuracy"] and len(curve) == 6
    assert list(summary.columns) == ["fusion", "clean", "auc", "dropped"]
    for r in summary.itertuples():
        assert r.clean == pytest.approx(evaluate(models[r.fusion], color))
        assert 0 <= r.auc <= 1
        assert r.dropped == pytest.approx(evaluate(models[r.fusion], color, drop=("audio",)))
    assert summary.auc.is_monotonic_decreasing


def test_benchmark_script_runs_tiny(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "fusion.py"
    spec = importlib.util.spec_from_file_location("fusion_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    df = mod.main(["--seeds", "1", "--epochs", "1", "--n-train", "64", "--n-test", "32",
                   "--fusions", "late_concat", "gmu"])  # fmt: skip
    out = capsys.readouterr().out
    assert "late_concat" in out and "gmu" in out and "audio_noise_auc" in out
    assert len(df) == 4 and set(df.task) == {"match", "color"}
    assert torch.get_num_threads() == 1


def test_training_leaves_the_global_rng_alone_and_returns_the_fit(color):
    from mmtutorial.fusion_tasks import train_classifier
    from mmtutorial.models import UnimodalMLP
    from mmtutorial.training import FitResult

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    model = UnimodalMLP("audio", 24, 6)
    torch.manual_seed(123)
    result = train_classifier(model, color, epochs=1)
    train_fusion("gmu", color, epochs=1)
    assert torch.equal(torch.rand(3), expected)  # neither seeded the caller's generator
    assert isinstance(result, FitResult) and result.model is model
    assert len(result.losses()) == color.size("train") // 64

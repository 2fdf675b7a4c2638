"""The training engine: configs, optimizer groups, schedule, fit (determinism, logs), checkpoints, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from tiny_training import ce, cfg, data
from torch import nn

from mmtutorial.training import (
    IncompatibleCheckpointError,
    TrainConfig,
    apply_overrides,
    epoch_batches,
    fit,
    load_checkpoint,
    load_config,
    lr_factor,
    param_groups,
    read_metrics,
    save_checkpoint,
)

# Tiny models: one thread avoids thread-pool overhead on a busy machine (conftest.one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


def model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))


# ---------------------------------------------------------------- configs
def test_toml_then_overrides(tmp_path):
    (tmp_path / "run.toml").write_text(
        "[train]\nsteps = 7\nlr = 0.5\nbetas = [0.8, 0.9]\n[other]\nseed = 3\n"
    )
    c = load_config(TrainConfig, tmp_path / "run.toml", ["lr=1e-3", "progress=false", "betas=0.7,0.8"])
    assert (c.steps, c.lr, c.seed, c.progress, c.betas) == (7, 1e-3, 3, False, (0.7, 0.8))


@pytest.mark.parametrize(
    "override, words",
    [
        ("nope=1", "unknown config key 'nope'"),
        ("steps=abc", "steps must be int"),
        ("steps", "key=value"),
        ("progress=maybe", "boolean"),
        ("steps=0", "steps must be >= 1"),
    ],
)
def test_bad_overrides_are_refused_by_name(override, words):
    with pytest.raises(ValueError, match=words):
        apply_overrides(TrainConfig(), [override])


def test_unknown_toml_key_is_refused(tmp_path):
    (tmp_path / "bad.toml").write_text("stepz = 3\n")
    with pytest.raises(ValueError, match="stepz"):
        load_config(TrainConfig, tmp_path / "bad.toml")


# ---------------------------------------------------------------- optimizer and schedule
def test_matrices_decay_and_vectors_do_not():
    m = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Embedding(5, 4))
    m.scale = nn.Parameter(torch.tensor(1.0))
    decay, no_decay = param_groups(m, 0.1)
    assert {p.ndim for p in decay["params"]} == {2} and len(decay["params"]) == 2
    assert {p.ndim for p in no_decay["params"]} == {0, 1} and no_decay["weight_decay"] == 0.0


def test_schedule_warms_up_then_follows_the_cosine_to_its_floor():
    f = [lr_factor(t, 20, 4, 0.1) for t in range(21)]
    assert f[:4] == [0.25, 0.5, 0.75, 1.0]
    assert f[4] == 1.0 and f[20] == pytest.approx(0.1) and f[12] == pytest.approx(0.55)
    assert all(a >= b for a, b in zip(f[4:], f[5:], strict=False))


# ---------------------------------------------------------------- batches
def test_global_batches_are_the_same_on_one_or_two_ranks():
    one = epoch_batches(100, 32, 1, seed=1, epoch=2)
    two = [epoch_batches(100, 32, 1, seed=1, epoch=2, rank=r, world=2) for r in range(2)]
    assert len(one) == 3
    for t in range(3):
        assert sorted(one[t][0]) == sorted(two[0][t][0] + two[1][t][0])
    assert sorted(i for s in one for m in s for i in m) != list(range(96))  # shuffled, 4 dropped


# ---------------------------------------------------------------- fit
def test_fit_learns_is_deterministic_and_logs_every_step(tmp_path):
    r1 = fit(
        model(),
        ce,
        data(),
        cfg(steps=30, lr=5e-2, tensorboard=True, plot=True, eval_every=10),
        eval_fn=lambda m: {
            "acc": float((m(data().tensors["x"]).argmax(1) == data().tensors["y"]).float().mean())
        },
        out_dir=tmp_path / "a",
    )
    r2 = fit(model(), ce, data(), cfg(steps=30, lr=5e-2), out_dir=tmp_path / "b")
    assert r1.losses() == r2.losses()  # bit for bit
    assert sum(r1.losses()[-5:]) / 5 < 0.7 * sum(r1.losses()[:5]) / 5
    train = read_metrics(tmp_path / "a", "train")
    assert [r["step"] for r in train] == list(range(1, 31)) and all({"loss", "lr"} <= set(r) for r in train)
    evals = read_metrics(tmp_path / "a", "eval")
    assert [r["step"] for r in evals] == [10, 20, 30] and evals[-1]["acc"] > 0.8
    assert json.loads((tmp_path / "a" / "config.json").read_text())["steps"] == 30
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "a" / "tensorboard").iterdir())
    assert (tmp_path / "a" / "curves.png").stat().st_size > 1000


def test_gradient_accumulation_matches_one_big_batch():
    # a mean-reduced loss without dropout: 2 micro-batches of 16 give the gradient of one batch of 32
    lin = lambda: (torch.manual_seed(0), nn.Linear(6, 2))[1]
    a = fit(lin(), ce, data(), cfg(steps=6))
    b = fit(lin(), ce, data(), cfg(steps=6, grad_accum=2))
    torch.testing.assert_close(torch.tensor(a.losses()), torch.tensor(b.losses()), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a.model.weight, b.model.weight, rtol=1e-5, atol=1e-6)


def test_resume_continues_exactly(tmp_path):
    """Stop at 7 (mid-epoch: 3 steps per epoch), resume to 12: every later loss equals the straight run's."""
    straight = fit(
        model(),
        ce,
        data(),
        cfg(eval_every=4),
        out_dir=tmp_path / "straight",
        eval_fn=lambda m: {"w": float(m[0].weight.sum())},
    )
    fit(
        model(),
        ce,
        data(),
        cfg(eval_every=5),
        out_dir=tmp_path / "r",
        stop_at=7,
        eval_fn=lambda m: {"w": float(m[0].weight.sum())},
    )
    with open(tmp_path / "r" / "metrics.jsonl", "a") as f:  # rows a killed run wrote after its checkpoint
        f.write(json.dumps({"step": 8, "kind": "train", "loss": -1.0}) + "\n")
    resumed = fit(model(seed=5), ce, data(), cfg(eval_every=4), out_dir=tmp_path / "r", resume=True)
    assert [r["step"] for r in resumed.history if r["kind"] == "train"] == list(range(8, 13))
    assert resumed.losses() == straight.losses()[7:]
    rows = read_metrics(tmp_path / "r", "train")
    assert [r["step"] for r in rows] == list(range(1, 13))
    assert [r["loss"] for r in rows] == straight.losses()
    for p, q in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_incompatible_checkpoint_is_refused_naming_the_keys(tmp_path):
    fit(model(), ce, data(), cfg(steps=3), out_dir=tmp_path)
    with pytest.raises(IncompatibleCheckpointError, match=r"lr: 0.01 -> 0.02.*seed: 0 -> 1"):
        fit(model(), ce, data(), cfg(steps=3, lr=0.02, seed=1), out_dir=tmp_path, resume=True)
    fit(
        model(), ce, data(), cfg(steps=3, log_every=1), out_dir=tmp_path, resume=True
    )  # runtime keys may differ
    with pytest.raises(ValueError, match="already holds a run"):
        fit(model(), ce, data(), cfg(steps=3), out_dir=tmp_path)


def test_checkpoint_loads_weights_only(tmp_path):
    fit(model(), ce, data(), cfg(steps=2), out_dir=tmp_path)
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ckpt["step"] == 2 and set(ckpt["rng"]) >= {"python", "numpy", "torch"}
    assert set(ckpt) >= {"model", "optimizer", "scheduler", "config"}


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"step": 1, "w": torch.ones(3)})

    def broken(obj, f):
        f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"step": 2, "w": torch.zeros(3)})
    assert load_checkpoint(path)["step"] == 1


KILL_SCRIPT = """
import sys, torch
from mmtutorial.training import save_checkpoint
big = torch.randn(4_000_000)
for step in range(10**6):
    save_checkpoint(sys.argv[1], {"step": step, "w": big})
    print(step, flush=True)
"""


def test_a_kill_mid_write_never_leaves_a_half_file(tmp_path):
    path = tmp_path / "c.pt"
    for delay in (0.05, 0.2):  # killed at different points of a write
        proc = subprocess.Popen(
            [sys.executable, "-c", KILL_SCRIPT, str(path)], stdout=subprocess.PIPE, text=True
        )
        proc.stdout.readline()  # one complete checkpoint exists
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        ckpt = load_checkpoint(path)
        assert ckpt["w"].shape == (4_000_000,)


def test_bf16_autocast_tracks_fp32_within_its_precision():
    """bf16 keeps 8 bits of mantissa: the first losses agree with fp32 to ~1e-2 relative, not exactly."""
    lin = lambda: (torch.manual_seed(0), nn.Linear(6, 2))[1]
    a = fit(lin(), ce, data(), cfg(steps=4, precision="fp32"))
    b = fit(lin(), ce, data(), cfg(steps=4, precision="bf16"))
    assert a.losses() != b.losses()
    torch.testing.assert_close(torch.tensor(b.losses()), torch.tensor(a.losses()), rtol=2e-2, atol=1e-2)

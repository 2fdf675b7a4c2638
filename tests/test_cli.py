"""``mmtutorial`` / ``python -m mmtutorial``: help, info, data, train (resume, torchrun), eval, bench."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "n_train=256", "--set", "n_test=64", "--set", "batch_size=32", "--set", "warmup_steps=2",
        "--set", "eval_every=0", "--set", "channels=8,16", "--set", "progress=false",
        "--set", "tensorboard=false", "--set", "plot=false"]  # fmt: skip


def run(*args: str, module: str = "mmtutorial") -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env
    )


def losses(run_dir: Path) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if r["kind"] == "train"]


def test_help_lists_the_commands_with_examples():
    from mmtutorial.cli.main import build_parser

    text = build_parser().format_help()
    for command in ("info", "data", "train", "eval", "bench"):
        assert command in text
    sub = build_parser()._subparsers._group_actions[0].choices
    for name, parser in sub.items():
        assert "example" in parser.format_help(), name


def test_console_script_points_at_main():
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, func = scripts["mmtutorial"].split(":")
    import importlib

    assert callable(getattr(importlib.import_module(module), func))


def test_info_reports_versions_and_devices():
    r = run("info")
    assert r.returncode == 0, r.stderr
    assert "torch 2.11.0" in r.stdout and "cuda available:" in r.stdout


def test_unknown_benchmark_and_paths_are_refused(capsys):
    from mmtutorial.cli.main import main

    for name in ("no_such_benchmark", "../mmtutorial/__init__", "/etc/passwd"):
        assert main(["bench", name]) == 2
        assert "available:" in capsys.readouterr().out


def test_data_refuses_a_path(capsys):
    from mmtutorial.cli.main import main

    assert main(["data", "../data_scripts/make_shapes_world.py"]) == 2
    assert "unknown data command" in capsys.readouterr().err


def test_missing_command_is_an_error():
    r = run()
    assert r.returncode != 0 and "required" in r.stderr


def test_bad_override_is_a_clear_error(capsys, tmp_path):
    from mmtutorial.cli.main import main

    assert main(["train", "--preset", "clip-shapes", "--set", "stepz=3", "--out", str(tmp_path)]) == 2
    assert "unknown config key 'stepz'" in capsys.readouterr().out


@pytest.fixture
def keep_threads():
    import torch

    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def test_train_stop_resume_matches_a_straight_run_and_eval_writes_metrics(tmp_path, capsys, keep_threads):
    """Stopped at 4 then resumed to 8 = a straight 8-step run, step for step; eval writes the metrics."""
    from mmtutorial.cli.main import main

    train = ["train", "--preset", "clip-shapes"]
    assert main([*train, *TINY, "--set", "steps=8", "--out", str(tmp_path / "a")]) == 0
    assert main([*train, *TINY, "--set", "steps=8", "--out", str(tmp_path / "b"), "--stop-at", "4"]) == 0
    assert len(losses(tmp_path / "b")) == 4
    assert main([*train, "--out", str(tmp_path / "b"), "--resume"]) == 0  # the saved config comes first
    assert losses(tmp_path / "b") == losses(tmp_path / "a")
    for f in ("config.json", "metrics.jsonl", "checkpoint.pt", "tokenizer.json"):
        assert (tmp_path / "a" / f).exists()
    capsys.readouterr()
    assert main([*train, "--out", str(tmp_path / "b"), "--resume", "--set", "lr=0.1"]) == 2
    assert "lr: 0.003 -> 0.1" in capsys.readouterr().out
    assert main(["eval", "--checkpoint", str(tmp_path / "a"), "--out", str(tmp_path / "m.json")]) == 0
    m = json.loads((tmp_path / "m.json").read_text())
    assert set(m) >= {"i2t_r1", "i2t_r5", "t2i_r1", "t2i_r5", "n_queries"} and m["n_queries"] == 64
    # chance beside each figure: a random ranking of the split's captions (repeats count as positives)
    assert m["chance_i2t_r1"] >= 1 / 64 and m["chance_i2t_r5"] >= 5 / 64 and m["chance_t2i_r1"] >= 1 / 64
    assert 0 <= m["i2t_r1"] <= m["i2t_r5"] <= 1 and m["step"] == 8


@pytest.mark.slow
def test_torchrun_two_processes_equal_one_process_over_the_same_global_batch(tmp_path):
    args = ["train", "--preset", "clip-shapes", *TINY, "--set", "steps=5"]
    r = run(*args, "--out", str(tmp_path / "one"))
    assert r.returncode == 0, r.stdout + r.stderr
    two_procs = ["--standalone", "--nproc_per_node", "2", "-m", "mmtutorial"]
    r = run(*two_procs, *args, "--out", str(tmp_path / "two"), module="torch.distributed.run")
    assert r.returncode == 0, r.stdout + r.stderr
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert len(one) == len(two) == 5
    # same pairs per step, another order of rows and of the gradient sums: equal to float rounding
    assert one == pytest.approx(two, rel=1e-4, abs=1e-5)
    assert "2 process(es)" in r.stdout and r.stdout.count("run folder") == 1  # rank 0 alone reports


def test_retrieval_metrics_report_chance_beside_recall():
    from mmtutorial.cli.presets.base import retrieval_metrics

    img = torch.nn.functional.normalize(torch.randn(10, 4, generator=torch.Generator().manual_seed(0)), dim=1)
    m = retrieval_metrics(img, img, [f"caption {i}" for i in range(10)])
    assert m["i2t_r1"] == 1.0 and m["chance_i2t_r1"] == pytest.approx(0.1) and m["chance_t2i_r5"] == 0.5
    two = retrieval_metrics(img, img, ["same"] * 2 + [f"caption {i}" for i in range(8)])
    assert two["chance_i2t_r1"] == pytest.approx((2 * 0.2 + 8 * 0.1) / 10)  # a repeated caption: 2 positives

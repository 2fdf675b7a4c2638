"""`python -m mmtutorial ...` runs the package's jobs from a shell."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mmtutorial", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_help_lists_the_commands():
    r = run("--help")
    assert r.returncode == 0
    for command in ("info", "data", "bench"):
        assert command in r.stdout


def test_info_reports_versions_and_devices():
    r = run("info")
    assert r.returncode == 0, r.stderr
    assert "torch 2.11.0" in r.stdout and "cuda available:" in r.stdout


def test_unknown_benchmark_is_refused_with_the_list():
    r = run("bench", "no_such_benchmark")
    assert r.returncode == 2
    assert "no script" in r.stdout and "available:" in r.stdout


def test_missing_command_is_an_error():
    r = run()
    assert r.returncode != 0 and "required" in r.stderr


def test_data_shapes_writes_a_dataset_that_loads(tmp_path):
    from mmtutorial.data import load_dataset

    r = run("data", "shapes", "--n", "5", "--out", str(tmp_path / "ds"), "--seed", "3")
    assert r.returncode == 0, r.stderr
    ds = load_dataset(tmp_path / "ds")
    assert len(ds) == 5 and isinstance(ds[4]["caption"], str)


def test_data_help_of_each_script():
    for kind in ("shapes", "pairs", "emoji", "spoken"):
        r = run("data", kind, "--help")
        assert r.returncode == 0 and "usage" in r.stdout.lower(), (kind, r.stderr)

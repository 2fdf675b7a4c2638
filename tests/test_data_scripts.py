"""The data scripts run as `python data_scripts/x.py` from the repo root: --help, a small run, errors."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from mmtutorial.data import ShapesWorld, WorldConfig, load_dataset

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, f"data_scripts/{script}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def main_of(script: str):
    """The script's ``main(argv)``, loaded in this process (no torch import cost for error-path checks)."""
    return runpy.run_path(str(ROOT / "data_scripts" / script), run_name="not_main")["main"]


def test_help():
    for script, flag in (("make_shapes_world.py", "--n"), ("import_pairs.py", "--captions")):
        r = run(script, "--help")
        assert r.returncode == 0 and flag in r.stdout, r.stderr


def test_make_shapes_world_small_run(tmp_path):
    out = tmp_path / "ds"
    r = run("make_shapes_world.py", "--n", "4", "--out", str(out), "--seed", "3", "--holdout", "red,star")
    assert r.returncode == 0, r.stderr
    assert "100%" in r.stderr  # the tqdm progress bar ran to the end
    ds = load_dataset(out)
    world = ShapesWorld(WorldConfig(seed=3, holdout=(("red", "star"),)))
    assert len(ds) == 4 and [ds[i]["caption"] for i in range(4)] == [world[i]["caption"] for i in range(4)]
    assert ds.manifest["extra"]["config"]["holdout"] == [["red", "star"]]


def test_make_shapes_world_refuses_to_overwrite(tmp_path, capsys):
    main = main_of("make_shapes_world.py")
    assert (
        main(["--n", "2", "--out", str(tmp_path / "d"), "--no-progress", "--modalities", "image,caption"])
        == 0
    )
    assert main(["--n", "2", "--out", str(tmp_path / "d"), "--no-progress"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["--n", "3", "--out", str(tmp_path / "d"), "--no-progress", "--overwrite"]) == 0
    assert len(load_dataset(tmp_path / "d")) == 3
    assert main(["--n", "2", "--out", str(tmp_path / "e"), "--no-progress", "--holdout", "red,hexagon"]) == 2
    assert "hexagon" in capsys.readouterr().err


def test_import_pairs_small_run_and_missing_image(tmp_path, capsys):
    images = tmp_path / "imgs"
    images.mkdir()
    Image.fromarray(np.full((10, 10, 3), 200, np.uint8)).save(images / "a.png")
    csv = tmp_path / "caps.csv"
    csv.write_text("a.png,a grey square\n")
    r = run("import_pairs.py", "--images", str(images), "--captions", str(csv), "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    assert load_dataset(tmp_path / "o")[0]["caption"] == "a grey square"
    csv.write_text("a.png,a grey square\nmissing.jpg,nothing here\n")
    main = main_of("import_pairs.py")
    assert main(["--images", str(images), "--captions", str(csv), "--out", str(tmp_path / "o2")]) == 2
    assert "missing.jpg" in capsys.readouterr().err


def test_throughput_benchmark_runs_at_a_tiny_size(capsys):
    main = runpy.run_path(str(ROOT / "benchmarks" / "data_throughput.py"), run_name="not_main")["main"]
    assert main(["--n", "8", "--repeats", "1", "--image-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "image+caption, tensors (world.get)" in out and "all four, read from disk" in out

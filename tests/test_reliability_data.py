"""Nothing lost: dataset writes are atomic, overwrites replace only our datasets, sources and package data are
never written over, sizes that cannot fit are refused, and the data commands name what is wrong."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmtutorial.cli.data import SCRIPTS, run
from mmtutorial.data import DatasetWriter, WorldConfig, import_pairs, load_dataset, make_shapes_world
from mmtutorial.data.disk import remove_stale_partials
from mmtutorial.data.emoji import TABLE_PATH

ROOT = Path(__file__).resolve().parents[1]
SMALL = WorldConfig(seed=3, image_size=32, max_shapes=2)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def small_dataset(out: Path, n: int = 4) -> dict[str, bytes]:
    make_shapes_world(out, n, SMALL, ("image", "caption"), progress=False)
    return snapshot(out)


# ---- interrupted writes ------------------------------------------------------------------------------------
WRITER = """
import sys
from mmtutorial.data import WorldConfig, make_shapes_world
make_shapes_world(sys.argv[1], 10**6, WorldConfig(seed=1, image_size=32, max_shapes=2), ("image", "caption"),
                  progress=False, overwrite=True)
"""


def interrupt_a_write(out: Path, sig: int) -> int:
    """Start a long overwrite of ``out`` in a subprocess, let it write some samples, send ``sig``."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out)], cwd=ROOT, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(list(out.parent.glob(f".{out.name}.partial-*/images/*.png"))) < 20:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the writer never started writing"
            time.sleep(0.1)
        proc.send_signal(sig)
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_an_interrupted_overwrite_leaves_the_old_dataset_byte_for_byte(tmp_path, sig):
    out = tmp_path / "ds"
    before = small_dataset(out)
    code = interrupt_a_write(out, sig)
    assert code != 0
    assert snapshot(out) == before  # every byte of the old dataset, and nothing else, under the name
    assert len(load_dataset(out, verify=True)) == 4
    partial = list(tmp_path.glob(".ds.partial-*"))
    if sig == signal.SIGINT:  # Ctrl-C: the writer cleans up after itself
        assert partial == []
    else:  # a killed process cannot clean up: its partial folder stays beside, hidden, never under the name
        assert len(partial) == 1 and not (partial[0] / "manifest.json").exists()
        # ... until the next write to the same place removes it (its writer's PID is gone)
        make_shapes_world(out, 4, SMALL, ("image", "caption"), progress=False, overwrite=True)
        assert list(tmp_path.glob(".ds.partial-*")) == []


def test_a_partial_folder_of_a_running_writer_is_left_alone(tmp_path):
    out = tmp_path / "ds"
    with DatasetWriter(out) as first:
        first.add("a", "a caption", image=np.zeros((8, 8, 3), np.uint8))
        assert remove_stale_partials(first._target) == []  # our own PID: a write in progress
        assert first.work.exists()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        theirs = tmp_path / f".ds.partial-{alive.pid}-abcd"
        theirs.mkdir()
        assert remove_stale_partials(out) == [] and theirs.exists()
    finally:
        alive.kill()
        alive.wait()
    assert remove_stale_partials(out) == [theirs] and not theirs.exists()


def test_an_exception_inside_the_writer_keeps_the_old_dataset(tmp_path):
    out = tmp_path / "ds"
    before = small_dataset(out)
    with pytest.raises(KeyboardInterrupt), DatasetWriter(out, overwrite=True) as w:
        w.add("a", "a new caption", image=np.zeros((8, 8, 3), np.uint8))
        raise KeyboardInterrupt
    assert snapshot(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    with pytest.raises(KeyboardInterrupt), DatasetWriter(tmp_path / "fresh") as w:  # a first write
        w.add("a", "a caption", image=np.zeros((8, 8, 3), np.uint8))
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # nothing under the new name, no partial


def test_an_overwrite_with_fewer_samples_leaves_no_old_file_behind(tmp_path):
    out = tmp_path / "ds"
    small_dataset(out, n=6)
    make_shapes_world(out, 2, SMALL, ("image", "caption"), progress=False, overwrite=True)
    assert sorted(snapshot(out)) == [
        "captions.jsonl",
        "images/000000.png",
        "images/000001.png",
        "manifest.json",
    ]
    assert len(load_dataset(out)) == 2


# ---- what an overwrite may replace -------------------------------------------------------------------------
def test_overwrite_refuses_a_folder_that_is_not_a_dataset(tmp_path):
    mine = tmp_path / "mine"
    (mine / "images").mkdir(parents=True)
    (mine / "captions.jsonl").write_text("my own notes\n")
    (mine / "images" / "holiday.png").write_bytes(b"my photo")
    before = snapshot(mine)
    with pytest.raises(ValueError, match="not an mmtutorial dataset"):
        make_shapes_world(mine, 2, SMALL, ("image", "caption"), progress=False, overwrite=True)
    assert snapshot(mine) == before
    # ... on the command line too, with the flag that says more
    args = ["--n", "2", "--out", str(mine), "--no-progress", "--modalities", "image,caption", "--overwrite"]
    assert run("shapes", args) == 2
    assert snapshot(mine) == before
    assert run("shapes", [*args, "--overwrite-any-folder"]) == 0
    assert len(load_dataset(mine)) == 2 and not (mine / "images" / "holiday.png").exists()


def test_a_file_as_out_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="existing file"):
        DatasetWriter(tmp_path / "f", overwrite=True)


def _photos(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "photos"
    src.mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):
        Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(src / f"{k}.png")
    csv = tmp_path / "caps.csv"
    csv.write_text("".join(f"{k}.png,picture {k}\n" for k in range(3)))
    return src, csv


def test_importing_pairs_in_place_is_refused_and_changes_nothing(tmp_path):
    src, csv = _photos(tmp_path)
    ds = tmp_path / "ds"
    import_pairs(src, csv, ds, progress=False)
    before = snapshot(ds)
    (tmp_path / "inside.csv").write_text("000000.png,same picture\n000001.png,other picture\n")
    with pytest.raises(ValueError, match="inside the output folder"):
        import_pairs(ds / "images", tmp_path / "inside.csv", ds, progress=False, overwrite=True)
    code = run(
        "pairs",
        ["--images", str(ds / "images"), "--captions", str(tmp_path / "inside.csv"), "--out", str(ds)]
        + ["--overwrite", "--no-progress"],
    )
    assert code == 2 and snapshot(ds) == before
    (ds / "caps.csv").write_bytes(csv.read_bytes())  # a captions file inside the target is refused too
    with pytest.raises(ValueError, match="captions .* inside the output folder"):
        import_pairs(src, ds / "caps.csv", ds, progress=False, overwrite=True)


def test_import_pairs_refuses_a_name_that_leaves_the_images_folder(tmp_path):
    src, csv = _photos(tmp_path)
    Image.new("RGB", (4, 4)).save(tmp_path / "secret.png")
    csv.write_text("../secret.png,outside\n")
    with pytest.raises(ValueError, match="outside"):
        import_pairs(src, csv, tmp_path / "out", progress=False)


# ---- sizes that cannot fit ---------------------------------------------------------------------------------
def test_sizes_that_cannot_fit_in_memory_are_refused_before_any_work(tmp_path):
    src, csv = _photos(tmp_path)
    with pytest.raises(ValueError, match=r"size must be an int in \[1, 4096\]"):
        import_pairs(src, csv, tmp_path / "o", size=100_000, progress=False)
    args = ["--images", str(src), "--captions", str(csv), "--out", str(tmp_path / "o"), "--size", "100000"]
    assert run("pairs", args) == 2
    for bad in ({"image_size": 100_000}, {"audio_seconds": 1e6}, {"n_frames": 100_000}):
        with pytest.raises(ValueError, match="MiB"):
            WorldConfig(**bad)
    assert not (tmp_path / "o").exists()


# ---- package data is never a default output ----------------------------------------------------------------
def test_make_emoji_table_needs_an_explicit_out_and_refuses_an_empty_input(tmp_path, capsys):
    table = hashlib.sha256(TABLE_PATH.read_bytes()).hexdigest()
    empty = tmp_path / "EMPTY"
    empty.write_text("")
    with pytest.raises(SystemExit) as exit_:  # argparse: --out is required, no default
        run("make_emoji_table", ["--emoji-test", str(empty)])
    assert exit_.value.code == 2 and "--out" in capsys.readouterr().err
    out = tmp_path / "table.tsv"
    out.write_text("the old table\n")
    assert run("make_emoji_table", ["--emoji-test", str(empty), "--out", str(out)]) == 2
    assert "0 emoji" in capsys.readouterr().err and out.read_text() == "the old table\n"
    assert hashlib.sha256(TABLE_PATH.read_bytes()).hexdigest() == table


# ---- the command line --------------------------------------------------------------------------------------
def test_registry_names_every_command_and_refuses_anything_else(capsys):
    assert {"shapes", "pairs", "emoji", "spoken", "make_emoji_table"} <= set(SCRIPTS)
    for name in ("../mmtutorial/__init__", "data_scripts/make_shapes_world.py", "/etc/passwd", ""):
        assert run(name, []) == 2
        assert "unknown data command" in capsys.readouterr().err
    for name in SCRIPTS:
        with pytest.raises(SystemExit) as exit_:
            run(name, ["--help"])
        assert exit_.value.code == 0 and "usage" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--seed", "-1"], "--seed"),
        (["--seed", "1.5"], "--seed"),
        (["--noise", "inf"], "--noise"),
        (["--noise", "nan"], "--noise"),
        (["--noise", "-0.1"], "--noise"),
        (["--n", "0"], "--n"),
        (["--image-size", "0"], "--image-size"),
    ],
)
def test_bad_values_name_their_flag(tmp_path, capsys, args, flag):
    base = {"--n": "2", "--out": str(tmp_path / "o")}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    with pytest.raises(SystemExit) as exit_:
        run("shapes", [x for kv in base.items() for x in kv])
    assert exit_.value.code == 2 and f"argument {flag}" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_world_config_refuses_non_finite_noise_and_negative_seed():
    with pytest.raises(ValueError, match="noise must be finite"):
        WorldConfig(noise=float("inf"))
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        WorldConfig(seed=-1)
    from mmtutorial.data.digits import DigitsDataset
    from mmtutorial.data.emoji import EmojiDataset

    for dataset in (EmojiDataset, DigitsDataset):
        with pytest.raises(ValueError, match="seed must be an int >= 0"):
            dataset(seed=-1)
    assert WorldConfig(seed=np.int64(2)).seed == 2  # numpy ints are ints


def test_unwritable_out_is_one_line_naming_it(tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    out = tmp_path / "a_file" / "ds"  # a folder under a file cannot be made, even by root
    assert run("shapes", ["--n", "2", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write --out") and str(out) in err and "Traceback" not in err


def test_data_scripts_are_thin_wrappers_of_the_package():
    r = subprocess.run(
        [sys.executable, "data_scripts/make_shapes_world.py", "--seed", "-1", "--n", "1", "--out", "x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert r.returncode == 2 and "argument --seed" in r.stderr

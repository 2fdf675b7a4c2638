"""On-disk datasets: round trip, byte-reproducible files, and loud failures on every kind of damage."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from mmtutorial.data import (
    GENERATOR_VERSION,
    DatasetIntegrityError,
    DatasetWriter,
    ShapesWorld,
    WorldConfig,
    collate,
    import_pairs,
    load_dataset,
    make_shapes_world,
)

N = 6
CFG = WorldConfig(seed=5, length=N)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("shapes") / "ds"
    make_shapes_world(out, N, CFG, progress=False)
    return out


@pytest.fixture
def copy(written, tmp_path):
    dst = tmp_path / "ds"
    shutil.copytree(written, dst)
    return dst


def test_round_trip_equals_the_in_memory_sample(written):
    ds = load_dataset(written)
    world = ShapesWorld(CFG)
    assert len(ds) == N and ds.modalities == ["image", "caption", "audio", "video"]
    assert ds.label_names == world.label_names
    for i in range(N):
        a, b = ds[i], world[i]
        assert a["id"] == f"{i:06d}"
        assert torch.equal(a["image"], b["image"])  # PNG is lossless
        assert torch.equal(a["video"], b["video"])  # NPZ is lossless
        assert a["caption"] == b["caption"] and a["labels"] == b["labels"]
        # WAV is 16-bit PCM: each sample within one quantisation step (2^-15) of the original
        assert a["audio"].shape == b["audio"].shape
        assert float((a["audio"] - b["audio"]).abs().max()) <= 2.0**-15 + 1e-7
    batch = collate([ds[i] for i in range(3)])
    assert batch["image"].shape == (3, 3, 64, 64) and batch["id"] == ["000000", "000001", "000002"]


def test_manifest_lists_every_file_with_its_checksum(written):
    m = json.loads((written / "manifest.json").read_text())
    assert m["format"] == "mmtutorial-dataset" and m["version"] == 1
    assert m["count"] == N and m["seed"] == 5 and m["generator_version"] == GENERATOR_VERSION
    on_disk = {p.relative_to(written).as_posix() for p in written.rglob("*") if p.is_file()}
    assert set(m["files"]) == on_disk - {"manifest.json"}
    assert len(m["files"]) == 3 * N + 1  # png, wav, npz per sample + captions.jsonl
    assert m["extra"]["config"]["seed"] == 5


def test_same_seed_writes_identical_bytes(written, tmp_path):
    again = tmp_path / "again"
    make_shapes_world(again, N, CFG, progress=False)
    assert (again / "manifest.json").read_bytes() == (written / "manifest.json").read_bytes()
    other = tmp_path / "other"
    make_shapes_world(other, N, WorldConfig(seed=6, length=N), progress=False)
    a = json.loads((written / "manifest.json").read_text())["files"]
    b = json.loads((other / "manifest.json").read_text())["files"]
    assert sum(a[k] != b[k] for k in a) >= N


def test_subset_of_modalities(tmp_path):
    make_shapes_world(tmp_path / "ic", 3, CFG, modalities=("image", "caption"), progress=False)
    ds = load_dataset(tmp_path / "ic")
    assert ds.modalities == ["image", "caption"] and set(ds[0]) == {"id", "image", "caption", "labels"}
    assert not (tmp_path / "ic" / "audio").exists()


# ---- damage is reported, naming the file -------------------------------------------------------------------
def test_missing_file(copy):
    (copy / "audio" / "000002.wav").unlink()
    with pytest.raises(DatasetIntegrityError, match=r"audio/000002\.wav.*missing"):
        load_dataset(copy)


def test_truncated_file(copy):
    p = copy / "images" / "000001.png"
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(DatasetIntegrityError, match=r"images/000001\.png.*truncated"):
        load_dataset(copy)
    with pytest.raises(DatasetIntegrityError, match=r"images/000001\.png"):
        load_dataset(copy, verify=False)  # sizes are checked even without hashing


def test_flipped_byte_fails_the_checksum(copy):
    p = copy / "video" / "000003.npz"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(DatasetIntegrityError, match=r"video/000003\.npz.*sha256"):
        load_dataset(copy)


def test_flipped_byte_without_verify_fails_on_read_or_differs(copy):
    p = copy / "images" / "000000.png"
    data = bytearray(p.read_bytes())
    data[40] ^= 0xFF  # inside the first compressed chunk: PNG's CRC catches it
    p.write_bytes(bytes(data))
    ds = load_dataset(copy, verify=False)
    with pytest.raises(DatasetIntegrityError, match=r"images/000000\.png"):
        ds[0]


def test_edited_captions_are_caught(copy):
    p = copy / "captions.jsonl"
    p.write_text(p.read_text().replace("a ", "an ", 1))
    with pytest.raises(DatasetIntegrityError, match="captions.jsonl"):
        load_dataset(copy, verify=False)  # the captions file is always hashed


def test_missing_manifest_and_unknown_version(copy):
    m = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps({**m, "version": 99}))
    with pytest.raises(ValueError, match="version 99"):
        load_dataset(copy)
    (copy / "manifest.json").write_text(json.dumps({**m, "format": "something-else"}))
    with pytest.raises(ValueError, match="format"):
        load_dataset(copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(DatasetIntegrityError, match="manifest.json"):
        load_dataset(copy)


def test_count_mismatch(copy):
    m = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps({**m, "count": N + 1}))
    with pytest.raises(DatasetIntegrityError, match="count"):
        load_dataset(copy)


# ---- the writer --------------------------------------------------------------------------------------------
def test_writer_validates_and_never_leaves_a_loadable_half(tmp_path):
    img = np.zeros((8, 8, 3), np.uint8)
    with DatasetWriter(tmp_path / "w") as w:
        w.add("a", "one", {"k": 1}, image=img)
        with pytest.raises(ValueError, match="already"):
            w.add("a", "two", image=img)
        with pytest.raises(ValueError, match="id"):
            w.add("../x", "two", image=img)
        with pytest.raises(ValueError, match="image"):
            w.add("b", "two", image=np.zeros((8, 8), np.float32))
        with pytest.raises(ValueError, match="audio"):
            w.add("c", "two", audio=np.full(10, 2.0, np.float32))
        with pytest.raises(ValueError, match="labels"):
            w.add("d", "two", {"k": "red"})
        with pytest.raises(ValueError, match="caption"):
            w.add("e", "  ")
    assert len(load_dataset(tmp_path / "w")) == 1
    with pytest.raises(ValueError, match="not empty"):
        DatasetWriter(tmp_path / "w")
    with pytest.raises(RuntimeError), DatasetWriter(tmp_path / "half") as w:
        w.add("a", "one", image=img)
        raise RuntimeError("crash mid-way")
    # the write was atomic: nothing at all under the target name, and no partial folder left beside it
    with pytest.raises(DatasetIntegrityError, match="does not exist"):
        load_dataset(tmp_path / "half")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w"]


# ---- bring your own pairs ----------------------------------------------------------------------------------
def _pairs(tmp_path, rows):
    images = tmp_path / "imgs"
    images.mkdir()
    rng = np.random.default_rng(0)
    arrays = {}
    for name in ("cat.png", "dog.jpg", "sky.bmp"):
        a = rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)
        Image.fromarray(a).save(images / name)
        arrays[name] = np.asarray(Image.open(images / name).convert("RGB"))
    csv = tmp_path / "caps.csv"
    csv.write_text("image,caption\n" + "".join(f'{a},"{b}"\n' for a, b in rows))
    return images, csv, arrays


def test_import_pairs_round_trip(tmp_path):
    rows = [
        ("cat.png", "a cat, sleeping"),
        ("dog.jpg", "a dog"),
        ("cat.png", "the same cat"),
        ("sky.bmp", "sky"),
    ]
    images, csv, arrays = _pairs(tmp_path, rows)
    import_pairs(images, csv, tmp_path / "out", progress=False)
    ds = load_dataset(tmp_path / "out")
    assert len(ds) == 4 and ds.modalities == ["image", "caption"]
    for i, (name, cap) in enumerate(rows):
        s = ds[i]
        assert s["caption"] == cap and ds.records[i]["meta"]["source"] == name
        got = (s["image"].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
        assert np.array_equal(got, arrays[name])
    import_pairs(images, csv, tmp_path / "small", size=16, progress=False)
    assert load_dataset(tmp_path / "small")[1]["image"].shape == (3, 16, 16)


def test_import_pairs_missing_or_bad_image_is_named(tmp_path):
    images, csv, _ = _pairs(tmp_path, [("cat.png", "a cat"), ("ghost.png", "nothing")])
    with pytest.raises(ValueError, match="ghost.png"):
        import_pairs(images, csv, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "manifest.json").exists()
    (images / "broken.png").write_bytes(b"not a png")
    csv.write_text("broken.png,a broken file\n")
    with pytest.raises(ValueError, match="broken.png"):
        import_pairs(images, csv, tmp_path / "out2", progress=False)
    csv.write_text("cat.png,\n")
    with pytest.raises(ValueError, match="empty caption"):
        import_pairs(images, csv, tmp_path / "out3", progress=False)

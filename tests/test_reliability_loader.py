"""A malformed dataset folder fails with a ``DatasetIntegrityError`` naming the file and the field, never an
``AttributeError``/``TypeError``/``KeyError`` from deep inside the loader, and nothing damaged loads silently.

The property tests (hypothesis) break one field of a valid manifest or record at a time, in every way the
schema forbids, and check that each broken folder is refused with the file named.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmtutorial.data import DatasetIntegrityError, DatasetWriter, WorldConfig, load_dataset
from mmtutorial.data.disk import wav_header_frames

SETTINGS = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A valid 3-sample dataset with image, caption and audio (and no video)."""
    out = tmp_path_factory.mktemp("tpl") / "ds"
    rng = np.random.default_rng(0)
    with DatasetWriter(out, name="tiny", extra={"label_names": {"k": ["a", "b"]}}) as w:
        for i in range(3):
            image = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            audio = (0.1 * rng.standard_normal(400)).astype(np.float32)
            w.add(f"s{i}", f"sample {i}", {"k": i % 2}, image=image, audio=audio, meta={"n": i})
    return out


def read(folder: Path) -> tuple[dict, list[dict]]:
    manifest = json.loads((folder / "manifest.json").read_text())
    records = [json.loads(line) for line in (folder / "captions.jsonl").read_text().splitlines()]
    return manifest, records


def write(
    folder: Path, manifest: object, records: list[object] | None = None, raw_lines: list[str] | None = None
):
    """Write ``manifest`` (and records, re-hashed so that only the schema can fail) into ``folder``."""
    if records is not None or raw_lines is not None:
        lines = raw_lines if raw_lines is not None else [json.dumps(r) for r in records]
        data = ("\n".join(lines) + "\n").encode()
        (folder / "captions.jsonl").write_bytes(data)
        if isinstance(manifest, dict) and isinstance(manifest.get("files"), dict):
            manifest["files"]["captions.jsonl"] = hashlib.sha256(data).hexdigest()
            if isinstance(manifest.get("sizes"), dict):
                manifest["sizes"]["captions.jsonl"] = len(data)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def refused(template: Path, mutate) -> DatasetIntegrityError:
    """Copy the template, apply ``mutate(folder, manifest, records)``, load: return the error raised."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ds"
        shutil.copytree(template, folder)
        manifest, records = read(folder)
        mutate(folder, manifest, records)
        with pytest.raises(DatasetIntegrityError) as err:
            load_dataset(folder, verify=False)
        return err.value


# ---- the cases the review found ----------------------------------------------------------------------------
def test_modalities_as_a_string_is_refused_not_split_into_characters(template):
    err = refused(template, lambda f, m, r: write(f, {**m, "modalities": "image,caption"}))
    assert str(err).startswith("manifest.json") and '"modalities"' in str(err)


def test_duplicate_ids_are_refused(template):
    err = refused(template, lambda f, m, r: write(f, m, [r[0], {**r[1], "id": r[0]["id"]}, r[2]]))
    assert "captions.jsonl: line 2" in str(err) and "appears twice" in str(err)


def test_infinity_in_the_manifest_is_refused(template):
    def mutate(folder, manifest, records):
        (folder / "manifest.json").write_text(json.dumps({**manifest, "extra": {"noise": float("inf")}}))

    assert "manifest.json: not valid JSON" in str(refused(template, mutate))


def test_the_writer_never_writes_infinity(tmp_path):
    with (
        pytest.raises(ValueError, match="JSON-serialisable"),
        DatasetWriter(tmp_path / "o", extra={"x": np.inf}) as w,
    ):
        w.add("a", "one")
    with pytest.raises(ValueError, match="meta"), DatasetWriter(tmp_path / "p") as w:
        w.add("a", "one", meta={"x": float("nan")})
    assert not (tmp_path / "o").exists() and not (tmp_path / "p").exists()


def test_a_truncated_wav_is_caught_without_sizes_or_checksums(template, tmp_path):
    folder = tmp_path / "ds"
    shutil.copytree(template, folder)
    manifest, _ = read(folder)
    del manifest["sizes"]  # an older or hand-made manifest: no sizes to compare with
    (folder / "manifest.json").write_text(json.dumps(manifest))
    wav = folder / "audio" / "s1.wav"
    data = wav.read_bytes()
    assert wav_header_frames(data) == 400
    wav.write_bytes(data[: len(data) - 400])  # half the samples gone
    ds = load_dataset(folder, verify=False)
    assert ds[0]["audio"].shape == (400,)
    with pytest.raises(DatasetIntegrityError, match=r"audio/s1.wav: file is truncated: 200 audio frames"):
        ds[1]


def test_wav_header_frames_reads_what_soundfile_writes():
    buf = io.BytesIO()
    soundfile.write(buf, np.zeros(123, np.float32), 8000, format="WAV", subtype="PCM_16")
    assert wav_header_frames(buf.getvalue()) == 123
    for bad in (b"", b"RIFF0000WAVX", b"RIFF\x04\x00\x00\x00WAVE"):
        with pytest.raises(ValueError):
            wav_header_frames(bad)


def test_the_round_trip_still_loads(template):
    ds = load_dataset(template)
    assert len(ds) == 3 and ds.modalities == ["image", "caption", "audio"]


# ---- property tests: every malformed manifest and record is refused, naming the file -----------------------
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
)
NOT_DICT = JSON.filter(lambda v: not isinstance(v, dict))
NOT_STR = JSON.filter(lambda v: not isinstance(v, str))
NOT_INT = JSON.filter(lambda v: not isinstance(v, int) or isinstance(v, bool))
NOT_LIST = JSON.filter(lambda v: not isinstance(v, list))
NEGATIVE = st.integers(-(10**6), -1)

# field -> values that the schema forbids there (the loader must refuse every one)
MANIFEST_BREAKS = {
    "format": JSON.filter(lambda v: v != "mmtutorial-dataset"),
    "version": JSON.filter(lambda v: v != 1 or isinstance(v, bool)),
    "count": st.one_of(NOT_INT, NEGATIVE, st.integers(4, 100)),
    "modalities": st.one_of(
        NOT_LIST,
        st.lists(st.text(max_size=6), min_size=1, max_size=3).filter(
            lambda v: not set(v) <= {"image", "caption", "audio"}
        ),
        st.just(["image", "audio"]),  # no caption
        st.just(["image", "caption", "caption", "audio"]),  # repeated
    ),
    "files": st.one_of(NOT_DICT, st.just({})),
    "sizes": NOT_DICT,
    "sample_rate": st.one_of(NOT_INT.filter(lambda v: v is not None), NEGATIVE, st.just(0), st.none()),
    "seed": NOT_INT.filter(lambda v: v is not None),
    "name": NOT_STR,
    "generator": NOT_STR,
    "extra": NOT_DICT,
}
REQUIRED = ("format", "version", "count", "modalities", "files")


@SETTINGS
@given(field=st.sampled_from(sorted(MANIFEST_BREAKS)), data=st.data())
def test_a_manifest_with_one_field_broken_is_refused_naming_the_file(template, field, data):
    value = data.draw(MANIFEST_BREAKS[field], label=field)

    def mutate(folder, manifest, records):
        write(folder, {**manifest, field: value})

    err = refused(template, mutate)
    assert str(err).startswith(("manifest.json", "captions.jsonl")), err


@SETTINGS
@given(data=st.data())
def test_a_manifest_broken_elsewhere_is_refused_naming_the_file(template, data):
    kind = data.draw(
        st.sampled_from(["not an object", "missing key", "file entry", "size entry", "label names"])
    )

    def mutate(folder, manifest, records):
        m = copy.deepcopy(manifest)
        if kind == "not an object":
            m = data.draw(NOT_DICT)
        elif kind == "missing key":
            del m[data.draw(st.sampled_from(REQUIRED))]
        elif kind == "file entry":
            rel = data.draw(st.sampled_from(sorted(m["files"])))
            if data.draw(st.booleans()):
                m["files"][rel] = data.draw(st.one_of(NOT_STR, st.text(max_size=70)))
            else:  # a path that escapes the folder or is not a plain relative path
                bad = data.draw(st.sampled_from(["../x.png", "/etc/passwd", "a/../b", "./a", "a\\b", ""]))
                m["files"][bad] = m["files"][rel]
        elif kind == "size entry":
            rel = data.draw(st.sampled_from(sorted(m["sizes"])))
            m["sizes"][rel] = data.draw(st.one_of(NOT_INT, NEGATIVE))
        else:
            m["extra"]["label_names"] = data.draw(
                st.one_of(NOT_DICT, st.dictionaries(st.text(max_size=3), NOT_LIST, min_size=1, max_size=2))
            )
        write(folder, m)

    err = refused(template, mutate)
    assert str(err).startswith("manifest.json"), err


RECORD_BREAKS = {
    "id": st.one_of(NOT_STR, st.just(""), st.text(min_size=1, max_size=8).filter(lambda s: not s.isalnum())),
    "caption": st.one_of(NOT_STR, st.sampled_from(["", "   ", "\n"])),
    "labels": st.one_of(NOT_DICT, st.dictionaries(st.text(max_size=3), NOT_INT, min_size=1, max_size=2)),
    "image": st.one_of(NOT_STR.filter(lambda v: v is not None), st.text(max_size=12)),
    "audio": st.one_of(NOT_STR.filter(lambda v: v is not None), st.text(max_size=12)),
    "video": st.one_of(
        NOT_STR.filter(lambda v: v is not None), st.text(max_size=12), st.just("images/s0.png")
    ),
    "meta": NOT_DICT,
}


@SETTINGS
@given(field=st.sampled_from(sorted(RECORD_BREAKS)), line=st.integers(0, 2), data=st.data())
def test_a_record_with_one_field_broken_is_refused_naming_the_file_and_line(template, field, line, data):
    value = data.draw(RECORD_BREAKS[field], label=field)
    if (
        field == "id"
        and isinstance(value, str)
        and value.replace("_", "").replace("-", "").isalnum()
        and value.isascii()
    ):
        value = value + "/"  # a well-formed id is not broken: make it so

    def mutate(folder, manifest, records):
        records[line][field] = value
        write(folder, manifest, records)

    err = refused(template, mutate)
    assert str(err).startswith(f"captions.jsonl: line {line + 1}"), err


@SETTINGS
@given(line=st.integers(0, 2), data=st.data())
def test_a_record_missing_a_key_or_not_an_object_is_refused(template, line, data):
    kind = data.draw(st.sampled_from(["missing id", "missing caption", "not an object", "not JSON"]))

    def mutate(folder, manifest, records):
        lines = [json.dumps(r) for r in records]
        if kind == "missing id":
            del records[line]["id"]
            lines[line] = json.dumps(records[line])
        elif kind == "missing caption":
            del records[line]["caption"]
            lines[line] = json.dumps(records[line])
        elif kind == "not an object":
            lines[line] = json.dumps(data.draw(NOT_DICT))
        else:
            lines[line] = lines[line][: data.draw(st.integers(1, len(lines[line]) - 1))]
        write(folder, manifest, raw_lines=lines)

    err = refused(template, mutate)
    assert str(err).startswith(f"captions.jsonl: line {line + 1}"), err


def test_shapes_world_config_round_trips_through_the_schema(tmp_path):
    from mmtutorial.data import make_shapes_world

    make_shapes_world(tmp_path / "w", 2, WorldConfig(seed=1, image_size=32), progress=False)
    assert load_dataset(tmp_path / "w").modalities == ["image", "caption", "audio", "video"]

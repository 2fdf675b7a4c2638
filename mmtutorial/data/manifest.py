"""The schema of a dataset folder's ``manifest.json`` and ``captions.jsonl`` records, checked field by field.

A manifest or record that a user edited by hand, a tool truncated or another program wrote must fail with a
:class:`DatasetIntegrityError` that names the file and the field (``manifest.json: "count" must be an int
>= 0, got "6"``), never with an ``AttributeError`` or ``KeyError`` from deep inside the loader.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath

FORMAT = "mmtutorial-dataset"
VERSION = 1
SUPPORTED_VERSIONS = (1,)
MODALITIES = ("image", "caption", "audio", "video")
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class DatasetIntegrityError(ValueError):
    """A dataset file is missing, truncated, corrupt, malformed or does not match its checksum.

    The message starts with the file (relative to the dataset folder) and names the field at fault.
    """


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _got(x: object) -> str:
    text = json.dumps(x) if isinstance(x, (str, int, float, bool, type(None))) else type(x).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON (NaN and Infinity are not numbers in JSON)")


def parse_json(text: str, where: str) -> object:
    """``json.loads`` refusing ``NaN``/``Infinity``; raises ``DatasetIntegrityError`` naming ``where``."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as e:  # JSONDecodeError is a ValueError, and so is a NaN/Infinity constant
        raise DatasetIntegrityError(f"{where}: not valid JSON ({e})") from e


def safe_relative_path(rel: object) -> bool:
    """Whether ``rel`` is a relative POSIX path that stays inside the dataset folder."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\x00" in rel:
        return False
    p = PurePosixPath(rel)
    return not p.is_absolute() and ".." not in p.parts and "." not in p.parts and rel == str(p)


def check_manifest(manifest: object, where: str = "manifest.json") -> dict:
    """Check every field of a parsed manifest; return it. ``DatasetIntegrityError`` names the field."""

    def bad(field: str, need: str, got: object) -> DatasetIntegrityError:
        return DatasetIntegrityError(f'{where}: "{field}" must be {need}, got {_got(got)}')

    if not isinstance(manifest, dict):
        raise DatasetIntegrityError(f"{where}: must be a JSON object, got {_got(manifest)}")
    if manifest.get("format") != FORMAT:
        raise bad("format", repr(FORMAT), manifest.get("format"))
    if manifest.get("version") not in SUPPORTED_VERSIONS or not _is_int(manifest.get("version")):
        raise DatasetIntegrityError(
            f"{where}: unknown manifest version {manifest.get('version')!r}; this mmtutorial reads "
            f"versions {list(SUPPORTED_VERSIONS)} (a newer mmtutorial may read it)"
        )
    for key in ("count", "files", "modalities"):
        if key not in manifest:
            raise DatasetIntegrityError(f'{where}: missing key "{key}"')
    count = manifest["count"]
    if not _is_int(count) or count < 0:
        raise bad("count", "an int >= 0", count)
    mods = manifest["modalities"]
    if (
        not isinstance(mods, list)
        or not all(isinstance(m, str) and m in MODALITIES for m in mods)
        or len(set(mods)) != len(mods)
        or "caption" not in mods
    ):
        raise bad("modalities", f"a list of distinct names from {list(MODALITIES)} with 'caption'", mods)
    files = manifest["files"]
    if not isinstance(files, dict):
        raise bad("files", "an object {relative path: sha256}", files)
    for rel, digest in files.items():
        if not safe_relative_path(rel):
            raise DatasetIntegrityError(f'{where}: "files" path {rel!r} escapes the dataset folder')
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise bad(f"files[{rel!r}]", "a sha256 (64 lowercase hex digits)", digest)
    if "captions.jsonl" not in files:
        raise DatasetIntegrityError(f'{where}: "files" has no checksum for captions.jsonl')
    sizes = manifest.get("sizes", {})
    if not isinstance(sizes, dict):
        raise bad("sizes", "an object {relative path: bytes}", sizes)
    for rel, size in sizes.items():
        if rel not in files:
            raise DatasetIntegrityError(f'{where}: "sizes" lists {rel!r}, which "files" does not')
        if not _is_int(size) or size < 0:
            raise bad(f"sizes[{rel!r}]", "an int >= 0", size)
    rate = manifest.get("sample_rate")
    if rate is not None and (not _is_int(rate) or rate <= 0):
        raise bad("sample_rate", "a positive int or null", rate)
    if "audio" in mods and rate is None:
        raise bad("sample_rate", "a positive int (the dataset has audio)", rate)
    seed = manifest.get("seed")
    if seed is not None and not _is_int(seed):
        raise bad("seed", "an int or null", seed)
    for key in ("name", "generator", "generator_version"):
        if key in manifest and not isinstance(manifest[key], str):
            raise bad(key, "a string", manifest[key])
    extra = manifest.get("extra", {})
    if not isinstance(extra, dict):
        raise bad("extra", "an object", extra)
    names = extra.get("label_names", {})
    if not isinstance(names, dict) or not all(
        isinstance(v, list) and all(isinstance(s, str) for s in v) for v in names.values()
    ):
        raise bad("extra.label_names", "an object {label: [class names]}", names)
    return manifest


def check_record(
    record: object, n: int, manifest: dict, seen: set[str], where: str = "captions.jsonl"
) -> dict:
    """Check the record on line ``n`` of ``captions.jsonl`` against the manifest; return it.

    ``seen`` collects the ids read so far (an id may appear once).
    """
    at = f"{where}: line {n}"

    def bad(field: str, need: str, got: object) -> DatasetIntegrityError:
        return DatasetIntegrityError(f'{at}: "{field}" must be {need}, got {_got(got)}')

    if not isinstance(record, dict):
        raise DatasetIntegrityError(f"{at}: must be a JSON object, got {_got(record)}")
    if "id" not in record:
        raise DatasetIntegrityError(f'{at}: missing key "id"')
    rid = record["id"]
    if not isinstance(rid, str) or not ID_PATTERN.match(rid):
        raise bad("id", "1-64 characters from [A-Za-z0-9_-]", rid)
    if rid in seen:
        raise DatasetIntegrityError(f'{at}: "id" {rid!r} appears twice (ids must be unique)')
    seen.add(rid)
    if "caption" not in record:
        raise DatasetIntegrityError(f'{at}: missing key "caption"')
    if not isinstance(record["caption"], str) or not record["caption"].strip():
        raise bad("caption", "a non-empty string", record["caption"])
    labels = record.get("labels", {})
    if not isinstance(labels, dict):
        raise bad("labels", "an object {label: int}", labels)
    for k, v in labels.items():
        if not _is_int(v):
            raise bad(f"labels.{k}", "an int (a class index)", v)
    if "meta" in record and not isinstance(record["meta"], dict):
        raise bad("meta", "an object", record["meta"])
    files, mods = manifest["files"], manifest["modalities"]
    for m in ("image", "audio", "video"):
        rel = record.get(m)
        if rel is None:
            continue
        if not isinstance(rel, str):
            raise bad(m, "a relative path or null", rel)
        if rel not in files:
            raise DatasetIntegrityError(f'{at}: "{m}" file {rel!r} is not in manifest.json "files"')
        if m not in mods:
            raise DatasetIntegrityError(f'{at}: has "{m}" but manifest.json "modalities" is {mods}')
    return record


def is_dataset_folder(path: str | Path) -> bool:
    """Whether ``path`` holds a ``manifest.json`` of this format (a dataset of ours, possibly damaged)."""
    m = Path(path) / "manifest.json"
    try:
        return m.is_file() and json.loads(m.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False

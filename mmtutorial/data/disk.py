"""On-disk datasets: a folder of PNG / WAV / NPZ files, ``captions.jsonl`` and ``manifest.json`` (checksums).

Layout (``DatasetWriter`` writes it, ``load_dataset`` reads it)::

    DIR/manifest.json   {"format": "mmtutorial-dataset", "version": 1, "name", "generator",
                         "generator_version", "seed", "count", "modalities", "files": {relative path: sha256},
                         "sizes": {path: bytes}, "sample_rate", "extra"}
    DIR/captions.jsonl  one record a line: {"id", "caption", "labels", "image", "audio", "video"}
    DIR/images/ID.png   DIR/audio/ID.wav (mono PCM16)   DIR/video/ID.npz (uint8 (T, H, W, 3), key "video")

Every file is written from bytes held in memory, so its sha256 is computed once, on exactly what was written.
Files are byte-for-byte reproducible: PNG and WAV carry no timestamps; NPZ zip entries get a fixed date.
Reading checks every file; nothing is skipped silently.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import soundfile
import torch
from PIL import Image

from mmtutorial.data.world import to_float_tensor

FORMAT = "mmtutorial-dataset"
VERSION = 1
SUPPORTED_VERSIONS = (1,)
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class DatasetIntegrityError(ValueError):
    """A dataset file is missing, truncated, corrupt or does not match its checksum; the message names it."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---- encoders: array -> bytes ------------------------------------------------------------------------------
def encode_png(image: np.ndarray | Image.Image) -> bytes:
    """``uint8 (H, W, 3)`` array or PIL image -> PNG bytes (RGB)."""
    if isinstance(image, Image.Image):
        pil = image.convert("RGB")
    else:
        if (
            not isinstance(image, np.ndarray)
            or image.dtype != np.uint8
            or image.ndim != 3
            or image.shape[2] != 3
        ):
            got = f"{type(image).__name__} {getattr(image, 'dtype', '')} {getattr(image, 'shape', '')}"
            raise ValueError(f"image must be a uint8 array of shape (H, W, 3) or a PIL image, got {got}")
        pil = Image.fromarray(image, mode="RGB")
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


def encode_wav(audio: np.ndarray, sample_rate: int) -> bytes:
    """float ``(L,)`` in [-1, 1] -> 16-bit PCM mono WAV bytes."""
    a = np.asarray(audio)
    if a.ndim != 1 or not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"audio must be a 1-D float array (L,), got dtype {a.dtype} shape {a.shape}")
    if not np.isfinite(a).all() or np.abs(a).max(initial=0.0) > 1.0:
        raise ValueError("audio must hold finite values in [-1, 1]")
    buf = io.BytesIO()
    soundfile.write(buf, a.astype(np.float32), int(sample_rate), format="WAV", subtype="PCM_16")
    return buf.getvalue()


def encode_npz(video: np.ndarray) -> bytes:
    """``uint8 (T, H, W, 3)`` -> NPZ bytes (key ``"video"``), deflated, with a fixed zip date."""
    if not isinstance(video, np.ndarray) or video.dtype != np.uint8 or video.ndim != 4 or video.shape[3] != 3:
        got = f"{type(video).__name__} {getattr(video, 'dtype', '')} {getattr(video, 'shape', '')}"
        raise ValueError(f"video must be a uint8 array of shape (T, H, W, 3), got {got}")
    arr = io.BytesIO()
    np.lib.format.write_array(arr, np.ascontiguousarray(video), allow_pickle=False)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("video.npy", date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, arr.getvalue())
    return buf.getvalue()


class DatasetWriter:
    """Write samples into the on-disk layout; the manifest is written on :meth:`close` (or leaving ``with``).

    If the ``with`` block raises, no manifest is written, so a half-written folder never loads as a dataset.
    ``out_dir`` must be empty or absent unless ``overwrite=True``.
    """

    def __init__(
        self,
        out_dir: str | Path,
        *,
        name: str = "dataset",
        generator: str = "",
        generator_version: str = "",
        seed: int | None = None,
        extra: dict | None = None,
        overwrite: bool = False,
    ) -> None:
        self.out = Path(out_dir)
        if self.out.exists() and not self.out.is_dir():
            raise ValueError(f"out_dir must be a folder, got existing file {self.out}")
        if self.out.is_dir() and any(self.out.iterdir()) and not overwrite:
            raise ValueError(
                f"out_dir {self.out} is not empty; pass overwrite=True (--overwrite) to replace it"
            )
        if overwrite and (self.out / "manifest.json").exists():
            (self.out / "manifest.json").unlink()
        self.out.mkdir(parents=True, exist_ok=True)
        self.header = {
            "name": name,
            "generator": generator,
            "generator_version": str(generator_version),
            "seed": seed,
            "extra": extra or {},
        }
        self.files: dict[str, str] = {}
        self.sizes: dict[str, int] = {}
        self.ids: set[str] = set()
        self.modalities: set[str] = {"caption"}
        self.sample_rate: int | None = None
        self.count = 0
        self._captions = open(self.out / "captions.jsonl", "w", encoding="utf-8")  # noqa: SIM115
        self.closed = False

    def _write(self, rel: str, data: bytes) -> str:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.files[rel] = sha256_bytes(data)
        self.sizes[rel] = len(data)
        return rel

    def add(
        self,
        id: str,
        caption: str,
        labels: dict | None = None,
        image: np.ndarray | Image.Image | None = None,
        audio: np.ndarray | None = None,
        sample_rate: int = 16000,
        video: np.ndarray | None = None,
        meta: dict | None = None,
    ) -> None:
        """Add one sample. ``image`` uint8 ``(H, W, 3)`` or PIL; ``audio`` float ``(L,)``; ``video`` uint8
        ``(T, H, W, 3)``; ``labels`` a dict of ints (class labels); ``meta`` any JSON-serialisable dict kept
        in the record (e.g. the source file name) but not returned by ``ds[i]``."""
        if self.closed:
            raise ValueError("this DatasetWriter is closed")
        if not isinstance(id, str) or not _ID.match(id):
            raise ValueError(f"id must be 1-64 characters from [A-Za-z0-9_-], got {id!r}")
        if id in self.ids:
            raise ValueError(f"id {id!r} was already added")
        if not isinstance(caption, str) or not caption.strip():
            raise ValueError(f"caption of {id!r} must be a non-empty str, got {caption!r}")
        labels = dict(labels or {})
        for k, v in labels.items():
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise ValueError(f"labels[{k!r}] of {id!r} must be an int (a class index), got {v!r}")
        record = {
            "id": id,
            "caption": caption,
            "labels": {k: int(v) for k, v in labels.items()},
            "image": None,
            "audio": None,
            "video": None,
        }
        if meta:
            record["meta"] = meta
        if image is not None:
            record["image"] = self._write(f"images/{id}.png", encode_png(image))
            self.modalities.add("image")
        if audio is not None:
            if self.sample_rate is None:
                self.sample_rate = int(sample_rate)
            elif self.sample_rate != sample_rate:
                raise ValueError(
                    f"sample_rate must be {self.sample_rate} like earlier samples, got {sample_rate}"
                )
            record["audio"] = self._write(f"audio/{id}.wav", encode_wav(audio, sample_rate))
            self.modalities.add("audio")
        if video is not None:
            record["video"] = self._write(f"video/{id}.npz", encode_npz(video))
            self.modalities.add("video")
        self._captions.write(json.dumps(record, sort_keys=True) + "\n")
        self.ids.add(id)
        self.count += 1

    def close(self) -> Path:
        """Finish ``captions.jsonl`` and write ``manifest.json``; returns the dataset folder."""
        if self.closed:
            return self.out
        self._captions.close()
        self.closed = True
        data = (self.out / "captions.jsonl").read_bytes()
        self.files["captions.jsonl"] = sha256_bytes(data)
        self.sizes["captions.jsonl"] = len(data)
        order = ("image", "caption", "audio", "video")
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            **{k: v for k, v in self.header.items() if k != "extra"},
            "count": self.count,
            "modalities": [m for m in order if m in self.modalities],
            "sample_rate": self.sample_rate,
            "files": dict(sorted(self.files.items())),
            "sizes": dict(sorted(self.sizes.items())),
            "extra": self.header["extra"],
        }
        tmp = self.out / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=False) + "\n", encoding="utf-8")
        tmp.replace(self.out / "manifest.json")
        return self.out

    def abort(self) -> None:
        """Stop without a manifest (the folder will not load)."""
        if not self.closed:
            self._captions.close()
            self.closed = True

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class DiskDataset(torch.utils.data.Dataset):
    """A dataset folder as a torch ``Dataset``: ``ds[i]`` has the layout of ``ShapesWorld[i]`` for the
    modalities present (``image`` float32 ``(3, H, W)`` in [0, 1], ``caption`` str, ``audio`` float32
    ``(L,)``, ``video`` float32 ``(T, 3, H, W)``), plus ``labels`` (dict) and ``id`` (str)."""

    def __init__(self, root: Path, manifest: dict, records: list[dict]) -> None:
        self.root = root
        self.manifest = manifest
        self.records = records
        self.modalities: list[str] = list(manifest["modalities"])
        self.sample_rate: int | None = manifest.get("sample_rate")
        self.label_names: dict[str, list[str]] = manifest.get("extra", {}).get("label_names", {})

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"DiskDataset({str(self.root)!r}, count={len(self)}, modalities={self.modalities})"

    def _bytes(self, rel: str) -> bytes:
        path = self.root / rel
        if not path.is_file():
            raise DatasetIntegrityError(f"{rel}: file is missing from {self.root}")
        return path.read_bytes()

    def read_image(self, rel: str) -> np.ndarray:
        """The PNG at ``rel`` as ``uint8 (H, W, 3)``."""
        try:
            with Image.open(io.BytesIO(self._bytes(rel))) as im:
                return np.asarray(im.convert("RGB"))
        except DatasetIntegrityError:
            raise
        except Exception as e:
            raise DatasetIntegrityError(f"{rel}: cannot decode image ({e})") from e

    def read_audio(self, rel: str) -> np.ndarray:
        """The WAV at ``rel`` as ``float32 (L,)`` in [-1, 1]."""
        try:
            audio, sr = soundfile.read(io.BytesIO(self._bytes(rel)), dtype="float32")
        except DatasetIntegrityError:
            raise
        except Exception as e:
            raise DatasetIntegrityError(f"{rel}: cannot decode audio ({e})") from e
        if audio.ndim != 1:
            raise DatasetIntegrityError(f"{rel}: audio must be mono, got shape {audio.shape}")
        if self.sample_rate is not None and sr != self.sample_rate:
            raise DatasetIntegrityError(f"{rel}: sample rate {sr}, manifest says {self.sample_rate}")
        return audio

    def read_video(self, rel: str) -> np.ndarray:
        """The NPZ at ``rel`` as ``uint8 (T, H, W, 3)``."""
        try:
            with np.load(io.BytesIO(self._bytes(rel)), allow_pickle=False) as z:
                video = z["video"]
        except DatasetIntegrityError:
            raise
        except Exception as e:
            raise DatasetIntegrityError(f"{rel}: cannot decode video ({e})") from e
        if video.dtype != np.uint8 or video.ndim != 4 or video.shape[3] != 3:
            raise DatasetIntegrityError(
                f"{rel}: video must be uint8 (T, H, W, 3), got {video.dtype} {video.shape}"
            )
        return video

    def __getitem__(self, i: int) -> dict:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for dataset of length {len(self)}")
        r = self.records[i]
        out: dict = {"id": r["id"]}
        if r.get("image"):
            out["image"] = to_float_tensor(self.read_image(r["image"]))
        out["caption"] = r["caption"]
        if r.get("audio"):
            out["audio"] = torch.from_numpy(self.read_audio(r["audio"]))
        if r.get("video"):
            out["video"] = to_float_tensor(self.read_video(r["video"]))
        out["labels"] = dict(r.get("labels", {}))
        return out


def load_dataset(path: str | Path, verify: bool = True) -> DiskDataset:
    """Open a dataset folder written by :class:`DatasetWriter`.

    Always: the manifest must have a known format and version (else ``ValueError``), and every listed file
    must exist with the size the manifest records. ``verify=True`` also checks every file's sha256 up front.
    Any problem raises :class:`DatasetIntegrityError` naming the file.
    """
    root = Path(path)
    if not root.is_dir():
        raise DatasetIntegrityError(f"{root}: dataset folder does not exist")
    mpath = root / "manifest.json"
    if not mpath.is_file():
        raise DatasetIntegrityError(f"manifest.json: file is missing from {root} (was the writer closed?)")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetIntegrityError(f"manifest.json: not valid JSON ({e})") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise ValueError(f"manifest.json: format must be {FORMAT!r}, got {got!r}")
    if manifest.get("version") not in SUPPORTED_VERSIONS:
        raise ValueError(
            f"manifest.json: unknown manifest version {manifest.get('version')!r}; this mmtutorial reads "
            f"versions {list(SUPPORTED_VERSIONS)} (a newer mmtutorial may read it)"
        )
    for key in ("count", "files", "modalities"):
        if key not in manifest:
            raise DatasetIntegrityError(f"manifest.json: missing key {key!r}")
    files: dict[str, str] = manifest["files"]
    sizes: dict[str, int] = manifest.get("sizes", {})
    if "captions.jsonl" not in files:
        raise DatasetIntegrityError("manifest.json: captions.jsonl has no checksum")
    for rel, digest in files.items():
        p = root / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise DatasetIntegrityError(f"{rel}: path escapes the dataset folder")
        if not p.is_file():
            raise DatasetIntegrityError(f"{rel}: file is missing from {root}")
        if rel in sizes and p.stat().st_size != sizes[rel]:
            size = p.stat().st_size
            what = "truncated" if size < sizes[rel] else "longer than recorded"
            raise DatasetIntegrityError(f"{rel}: file is {what}: {size} bytes, manifest says {sizes[rel]}")
        if (verify or rel == "captions.jsonl") and sha256_file(p) != digest:
            raise DatasetIntegrityError(
                f"{rel}: sha256 does not match the manifest (file changed or corrupt)"
            )
    records = []
    with open(root / "captions.jsonl", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                raise DatasetIntegrityError(f"captions.jsonl: line {n} is not valid JSON ({e})") from e
            for m in ("image", "audio", "video"):
                rel = r.get(m)
                if rel is not None and rel not in files:
                    raise DatasetIntegrityError(
                        f"{rel}: referenced by captions.jsonl line {n} but not in manifest"
                    )
            records.append(r)
    if len(records) != manifest["count"]:
        raise DatasetIntegrityError(
            f"captions.jsonl: {len(records)} records, manifest.json says count={manifest['count']}"
        )
    return DiskDataset(root, manifest, records)

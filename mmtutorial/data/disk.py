"""On-disk datasets: a folder of PNG / WAV / NPZ files, ``captions.jsonl`` and ``manifest.json`` (checksums).

Layout (``DatasetWriter`` writes it, ``load_dataset`` reads it)::

    DIR/manifest.json   {"format": "mmtutorial-dataset", "version": 1, "name", "generator",
                         "generator_version", "seed", "count", "modalities", "files": {relative path: sha256},
                         "sizes": {path: bytes}, "sample_rate", "extra"}
    DIR/captions.jsonl  one record a line: {"id", "caption", "labels", "image", "audio", "video"}
    DIR/images/ID.png   DIR/audio/ID.wav (mono PCM16)   DIR/video/ID.npz (uint8 (T, H, W, 3), key "video")

Every file is written from bytes held in memory, so its sha256 is computed once, on exactly what was written.
Files are byte-for-byte reproducible: PNG and WAV carry no timestamps; NPZ zip entries get a fixed date.
Reading checks every file and every field (:mod:`mmtutorial.data.manifest`); nothing is skipped silently.

Writes are atomic, as with git or ``datasets.save_to_disk``: the writer fills a hidden sibling folder
(``.DIR.partial-*``) and renames it onto ``DIR`` only when the manifest is complete. Until then the old
dataset in ``DIR`` (if any) is untouched and loads; an interrupted write (Ctrl-C, an exception) removes the
partial folder, and a killed one leaves it beside ``DIR``, never under the name ``DIR``, until the next write
to ``DIR`` on the same machine removes it (its writer's PID is gone). Overwriting replaces only a folder
that is one of our datasets, unless told more explicitly (``replace_any=True``).
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import io
import json
import os
import secrets
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import soundfile
import torch
from PIL import Image

from mmtutorial.data.manifest import (
    FORMAT,
    ID_PATTERN,
    VERSION,
    DatasetIntegrityError,
    check_manifest,
    check_record,
    is_dataset_folder,
    parse_json,
)
from mmtutorial.data.tensors import to_float_tensor

_ID = ID_PATTERN


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


def _exchange(a: Path, b: Path) -> bool:
    """Swap the folders ``a`` and ``b`` in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns False where the system cannot (another OS, an old kernel, a filesystem without it).
    """
    if sys.platform != "linux":
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _sibling(out: Path, kind: str) -> Path:
    """A new hidden folder ``.NAME.kind-PID-RANDOM`` next to ``out`` (same filesystem: renames are atomic)."""
    path = out.parent / f".{out.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"
    path.mkdir()
    return path


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def remove_stale_partials(out: Path) -> list[Path]:
    """Delete ``.NAME.partial-PID-*`` folders next to ``out`` left by killed writers (SIGKILL, power loss).

    A partial folder never holds anyone's only copy of a dataset: it is a write that had not finished. One is
    removed only when its writer's PID no longer runs on this machine, so a write in progress is never touched
    (on a filesystem shared between machines a remote writer's PID is unknown here, hence left alone unless
    the same PID is free here too: only the machine that wrote it should run this). Returns what was removed.
    """
    removed = []
    for path in out.parent.glob(f".{out.name}.partial-*"):
        pid_text = path.name.rsplit(".partial-", 1)[1].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or _pid_alive(int(pid_text)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def replace_folder(new: Path, out: Path) -> None:
    """Put the complete folder ``new`` at ``out``, replacing what is there in one atomic step where possible.

    Without ``renameat2`` the old folder is first renamed aside, so for the time between two renames
    ``out`` is absent (the old data is then in ``.NAME.old-*``, never half-deleted).
    """
    if not out.exists():
        os.rename(new, out)
        return
    if _exchange(new, out):  # new now holds the old folder
        shutil.rmtree(new, ignore_errors=True)
        return
    old = out.parent / f".{out.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
    os.rename(out, old)
    try:
        os.rename(new, out)
    except BaseException:
        os.rename(old, out)  # put the old dataset back
        raise
    shutil.rmtree(old, ignore_errors=True)


def check_output_folder(out: Path, overwrite: bool, replace_any: bool = False) -> None:
    """Refuse an output folder we must not replace: a file, a non-empty folder without ``overwrite``, or a
    non-empty folder that is not one of our datasets without ``replace_any``."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir must be a folder, got existing file {out}")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite and not replace_any:
        raise ValueError(f"out_dir {out} is not empty; pass overwrite=True (--overwrite) to replace it")
    if not replace_any and not is_dataset_folder(out):
        raise ValueError(
            f"out_dir {out} is not empty and is not an mmtutorial dataset (no manifest.json of format "
            f"{FORMAT!r}), so overwrite=True (--overwrite) will not replace it; pass replace_any=True "
            "(--overwrite-any-folder) to delete its contents, or choose another folder"
        )


class DatasetWriter:
    """Write samples into the on-disk layout atomically: nothing appears at ``out_dir`` before :meth:`close`.

    Samples go to a hidden sibling folder; :meth:`close` (or leaving ``with`` normally) writes the manifest
    and renames the folder onto ``out_dir``. If the ``with`` block raises (Ctrl-C included), :meth:`abort`
    deletes the partial folder and ``out_dir`` is as it was. ``out_dir`` must be absent or empty unless
    ``overwrite=True``, which replaces an existing *dataset* only; ``replace_any=True`` replaces any folder.
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
        replace_any: bool = False,
    ) -> None:
        self.out = Path(out_dir)
        check_output_folder(self.out, overwrite, replace_any)
        self.out.parent.mkdir(parents=True, exist_ok=True)
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
        self._target = self.out.resolve()  # "." or "ds/.." have no usable name: work with the real path
        for stale in remove_stale_partials(self._target):
            print(f"removed {stale}, left by a writer that was killed", file=sys.stderr)
        self.work = _sibling(self._target, "partial")  # the folder being filled
        self._captions = open(self.work / "captions.jsonl", "w", encoding="utf-8")  # noqa: SIM115
        self.closed = False

    def _write(self, rel: str, data: bytes) -> str:
        path = self.work / rel
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
        if labels is not None and not isinstance(labels, dict):
            raise ValueError(f"labels of {id!r} must be a dict of ints, got {type(labels).__name__}")
        labels = dict(labels or {})
        for k, v in labels.items():
            if not isinstance(k, str):
                raise ValueError(f"labels of {id!r} must have str keys, got {k!r}")
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise ValueError(f"labels[{k!r}] of {id!r} must be an int (a class index), got {v!r}")
        if meta is not None and not isinstance(meta, dict):
            raise ValueError(f"meta of {id!r} must be a dict, got {type(meta).__name__}")
        if audio is not None and (
            isinstance(sample_rate, bool)
            or not isinstance(sample_rate, (int, np.integer))
            or sample_rate <= 0
        ):
            raise ValueError(f"sample_rate of {id!r} must be a positive int, got {sample_rate!r}")
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
        try:  # strict JSON (no NaN/Infinity) before any file of this sample is written
            line = json.dumps(record, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ValueError(f"meta of {id!r} must be JSON-serialisable without NaN/inf ({e})") from e
        if audio is not None and self.sample_rate not in (None, sample_rate):
            raise ValueError(
                f"sample_rate must be {self.sample_rate} like earlier samples, got {sample_rate}"
            )
        # encode everything first: a bad modality leaves no file of this sample behind
        encoded = {
            "image": None if image is None else (f"images/{id}.png", encode_png(image)),
            "audio": None if audio is None else (f"audio/{id}.wav", encode_wav(audio, sample_rate)),
            "video": None if video is None else (f"video/{id}.npz", encode_npz(video)),
        }
        for m, item in encoded.items():
            if item is not None:
                record[m] = self._write(*item)
                self.modalities.add(m)
        if audio is not None:
            self.sample_rate = int(sample_rate)
        line = json.dumps(record, sort_keys=True, allow_nan=False)
        self._captions.write(line + "\n")
        self.ids.add(id)
        self.count += 1

    def close(self) -> Path:
        """Finish ``captions.jsonl``, write ``manifest.json``, move the dataset to ``out_dir``; return it."""
        if self.closed:
            return self.out
        try:
            self._captions.close()
            data = (self.work / "captions.jsonl").read_bytes()
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
            try:
                text = json.dumps(manifest, indent=1, sort_keys=False, allow_nan=False) + "\n"
            except (TypeError, ValueError) as e:
                raise ValueError(f"extra must be JSON-serialisable without NaN/inf ({e})") from e
            (self.work / "manifest.json").write_text(text, encoding="utf-8")
            replace_folder(self.work, self._target)
        except BaseException:
            self.abort()
            raise
        self.closed = True
        return self.out

    def abort(self) -> None:
        """Stop without a dataset: the partial folder is deleted and ``out_dir`` is left as it was."""
        if not self.closed:
            self._captions.close()
            self.closed = True
            shutil.rmtree(self.work, ignore_errors=True)

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def wav_header_frames(data: bytes) -> int:
    """Frames a PCM WAV file declares in its ``data`` chunk header (``bytes / (channels * sample bytes)``).

    Raises ``ValueError`` if ``data`` is not a RIFF/WAVE file with ``fmt `` and ``data`` chunks.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    pos, block_align = 12, None
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if chunk == b"fmt ":
            block_align = int.from_bytes(data[pos + 20 : pos + 22], "little")
        elif chunk == b"data":
            if not block_align:
                raise ValueError("WAV data chunk before its fmt chunk")
            return size // block_align
        pos += 8 + size + (size & 1)
    raise ValueError("WAV file has no data chunk")


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
            data = self._bytes(rel)
            frames = wav_header_frames(data)
            audio, sr = soundfile.read(io.BytesIO(data), dtype="float32")
        except DatasetIntegrityError:
            raise
        except Exception as e:
            raise DatasetIntegrityError(f"{rel}: cannot decode audio ({e})") from e
        if audio.ndim != 1:
            raise DatasetIntegrityError(f"{rel}: audio must be mono, got shape {audio.shape}")
        if len(audio) != frames:  # libsndfile reads what is there; a truncated file must not pass as short
            raise DatasetIntegrityError(
                f"{rel}: file is truncated: {len(audio)} audio frames, its WAV header says {frames}"
            )
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

    Always: ``manifest.json`` and every record of ``captions.jsonl`` must follow the schema of
    :mod:`mmtutorial.data.manifest` (known format and version, typed fields, unique ids), and every listed
    file must exist with the size the manifest records. ``verify=True`` also checks every file's sha256 up
    front (``captions.jsonl`` is always hashed). Any problem raises :class:`DatasetIntegrityError` (a
    ``ValueError``) naming the file and the field.
    """
    root = Path(path)
    if not root.is_dir():
        raise DatasetIntegrityError(f"{root}: dataset folder does not exist")
    mpath = root / "manifest.json"
    if not mpath.is_file():
        raise DatasetIntegrityError(f"manifest.json: file is missing from {root} (was the writer closed?)")
    try:
        text = mpath.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DatasetIntegrityError(f"manifest.json: not valid JSON (not UTF-8: {e})") from e
    manifest = check_manifest(parse_json(text, "manifest.json"))
    files: dict[str, str] = manifest["files"]
    sizes: dict[str, int] = manifest.get("sizes", {})
    for rel, digest in files.items():
        p = root / rel
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
    records: list[dict] = []
    seen: set[str] = set()
    with open(root / "captions.jsonl", encoding="utf-8") as f:
        try:
            lines = list(f)
        except UnicodeDecodeError as e:
            raise DatasetIntegrityError(f"captions.jsonl: not valid UTF-8 ({e})") from e
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        r = parse_json(line, f"captions.jsonl: line {n}")
        records.append(check_record(r, n, manifest, seen))
    if len(records) != manifest["count"]:
        raise DatasetIntegrityError(
            f"captions.jsonl: {len(records)} records, manifest.json says count={manifest['count']}"
        )
    return DiskDataset(root, manifest, records)

"""Every dataset the course writes to disk, in one place: each function fills a :class:`DatasetWriter`.

- :func:`make_shapes_world`: samples ``0 .. n-1`` of the procedural world (image, caption, audio, video);
- :func:`import_pairs`: your own images with a CSV of captions;
- :func:`write_emoji_pairs`: OpenMoji emoji in one drawing style;
- :func:`write_spoken_captions`: captions of the world or of the emoji spoken by espeak-ng;
- :func:`write_digits`: scikit-learn's handwritten digits.

The writes are atomic and refuse to replace anything but one of our datasets (see :mod:`.disk`); samples are
produced and written one at a time, so memory does not grow with the number of samples. The command line
(``python -m mmtutorial data NAME``, :mod:`mmtutorial.cli.data`) wraps these functions.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from mmtutorial._validate import check_choice, check_positive
from mmtutorial.data import speech
from mmtutorial.data.digits import LICENCE as DIGITS_LICENCE
from mmtutorial.data.digits import DigitsDataset
from mmtutorial.data.disk import DatasetWriter
from mmtutorial.data.emoji import CREDIT, LICENCE, EmojiDataset, label_names
from mmtutorial.data.world import GENERATOR_VERSION, ShapesWorld, WorldConfig

#: largest image side a writer accepts (a 4096 x 4096 RGB image is 48 MiB; 100000 would be 28 GiB)
MAX_IMAGE_SIDE = 4096


def _check_count(name: str, n: object) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r}")


def _check_seed(seed: object) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an int >= 0 (numpy seeds are non-negative), got {seed!r}")


def _check_side(name: str, size: object) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_IMAGE_SIDE:
        raise ValueError(f"{name} must be an int in [1, {MAX_IMAGE_SIDE}] (pixels), got {size!r}")


# ---- the procedural world ----------------------------------------------------------------------------------
def make_shapes_world(
    out: str | Path,
    n: int,
    config: WorldConfig | None = None,
    modalities: Sequence[str] = ShapesWorld.MODALITIES,
    progress: bool = True,
    overwrite: bool = False,
    replace_any: bool = False,
) -> Path:
    """Write samples ``0 .. n-1`` of ``ShapesWorld(config)`` to ``out`` (see :mod:`mmtutorial.data.disk`).

    The manifest's ``extra`` holds the full config and the label names, so the folder describes itself.
    """
    _check_count("n", n)
    if isinstance(modalities, str) or "caption" not in modalities:
        raise ValueError(f"modalities must include 'caption' (every record has one), got {modalities!r}")
    config = config or WorldConfig()
    config = dataclasses.replace(config, length=max(config.length, n))
    world = ShapesWorld(config)
    for m in modalities:
        check_choice("modalities entry", m, world.MODALITIES)
    extra = {"config": dataclasses.asdict(config), "label_names": world.label_names}
    with DatasetWriter(
        out,
        name="shapes-world",
        generator="mmtutorial.data.ShapesWorld",
        generator_version=GENERATOR_VERSION,
        seed=config.seed,
        extra=extra,
        overwrite=overwrite,
        replace_any=replace_any,
    ) as w:
        for i in tqdm(range(n), desc="shapes world", unit="sample", disable=not progress):
            a = world.arrays(i, modalities)
            w.add(
                f"{i:06d}",
                a["caption"],
                a["labels"],
                image=a.get("image"),
                audio=a.get("audio"),
                sample_rate=config.sample_rate,
                video=a.get("video"),
            )
    return Path(out)


# ---- your own pairs ----------------------------------------------------------------------------------------
_HEADERS = {("image", "caption"), ("filename", "caption"), ("file", "caption"), ("file_name", "caption")}


def read_pairs_csv(captions_csv: str | Path) -> list[tuple[str, str]]:
    """Rows ``(image filename, caption)`` of a CSV file; an optional header ``image,caption`` is skipped."""
    path = Path(captions_csv)
    if not path.is_file():
        raise ValueError(f"captions file {path} does not exist")
    rows: list[tuple[str, str]] = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            table = list(csv.reader(f))
    except (UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"captions file {path} is not a UTF-8 CSV file ({e})") from e
    for n, row in enumerate(table, 1):
        if not row or all(not c.strip() for c in row):
            continue
        if n == 1 and tuple(c.strip().lower() for c in row[:2]) in _HEADERS:
            continue
        if len(row) != 2:
            raise ValueError(
                f"{path} line {n}: need 2 columns (image filename, caption), got {len(row)}: {row}"
            )
        name, caption = row[0].strip(), row[1].strip()
        if not name:
            raise ValueError(f"{path} line {n}: empty image filename")
        if not caption:
            raise ValueError(f"{path} line {n}: empty caption for image {name!r}")
        rows.append((name, caption))
    if not rows:
        raise ValueError(f"captions file {path} holds no (image, caption) rows")
    return rows


def _inside(a: Path, b: Path) -> bool:
    """Whether ``a`` is ``b`` or inside it (after resolving links)."""
    a, b = a.resolve(), b.resolve()
    return a == b or b in a.parents


def import_pairs(
    images: str | Path,
    captions_csv: str | Path,
    out: str | Path,
    size: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    replace_any: bool = False,
) -> Path:
    """Bring your own image-caption pairs into the dataset layout.

    ``captions_csv`` has columns ``image filename, caption`` (filenames relative to ``images``); an image may
    appear on several rows (several captions). Every image is checked to exist and decode BEFORE anything is
    written; a missing or unreadable one raises ``ValueError`` naming it. ``size``: resize to ``size x size``
    (bicubic, at most ``MAX_IMAGE_SIDE``) so that samples can be batched; ``None`` keeps each image's size.
    Images are stored as RGB PNG. The sources must lie outside ``out`` (an overwrite replaces ``out``).
    """
    root, out_path = Path(images), Path(out)
    if not root.is_dir():
        raise ValueError(f"images folder {root} does not exist")
    if size is not None:
        _check_side("size", size)
    for what, src in (("images", root), ("captions", Path(captions_csv))):
        if _inside(src, out_path):  # the write replaces out_path: it must not hold the sources
            raise ValueError(
                f"{what} {src} is inside the output folder {out_path}: a dataset is never written over "
                "its own sources; write to another folder"
            )
    rows = read_pairs_csv(captions_csv)
    for name, _ in rows:  # validate everything first: nothing half-written on a bad input
        p = root / name
        if not _inside(p, root):
            raise ValueError(f"image file {name!r} listed in {captions_csv} is outside {root}")
        if not p.is_file():
            raise ValueError(f"image file {name!r} listed in {captions_csv} is missing from {root}")
        try:
            with Image.open(p) as im:
                im.verify()
        except Exception as e:
            raise ValueError(f"image file {name!r} in {root} cannot be read as an image ({e})") from e
    with DatasetWriter(
        out,
        name=f"pairs:{Path(captions_csv).name}",
        generator="mmtutorial.data.writers.import_pairs",
        generator_version="1",
        seed=None,
        extra={"source_images": str(root), "source_captions": str(captions_csv), "size": size},
        overwrite=overwrite,
        replace_any=replace_any,
    ) as w:
        for k, (name, caption) in enumerate(
            tqdm(rows, desc="import pairs", unit="pair", disable=not progress)
        ):
            with Image.open(root / name) as im:
                rgb = im.convert("RGB")
            if size is not None:
                rgb = rgb.resize((size, size), Image.Resampling.BICUBIC)
            w.add(f"{k:06d}", caption, image=rgb, meta={"source": name})
    return out_path


# ---- emoji -------------------------------------------------------------------------------------------------
def write_emoji_pairs(
    out_dir: str | Path,
    style: str = "color",
    size: int = 64,
    seed: int = 0,
    limit: int | None = None,
    overwrite: bool = False,
    replace_any: bool = False,
) -> int:
    """Write the emoji pairs of one style on disk (PNG images + captions.jsonl); return the count."""
    _check_side("size", size)
    _check_seed(seed)
    ds = EmojiDataset(style, size, seed, limit)
    extra = {
        "style": style,
        "size": size,
        "licence": LICENCE,
        "credit": CREDIT,
        "label_names": {"group": ds.label_names["group"], "subgroup": ds.label_names["subgroup"]},
    }
    with DatasetWriter(
        out_dir,
        name=f"openmoji-{style}",
        generator="mmtutorial.data.emoji.EmojiDataset",
        generator_version="1",
        seed=seed,
        extra=extra,
        overwrite=overwrite,
        replace_any=replace_any,
    ) as writer:
        for i in range(len(ds)):
            record, image, text = ds.raw(i)
            labels = ds.labels(record)
            del labels["emoji"]  # the emoji index depends on the catalogue; the name is in the caption
            meta = {
                "char": record.char,
                "name": record.name,
                "group": record.group,
                "subgroup": record.subgroup,
            }
            writer.add(record.codepoints.replace(" ", "-"), text, labels, image=image, meta=meta)
    return len(ds)


# ---- spoken captions ---------------------------------------------------------------------------------------
def iter_spoken_pairs(source: str, n: int, seed: int = 0, allow_procedural: bool = False) -> Iterator[dict]:
    """Spoken captions of ``source`` one at a time (see :func:`spoken_pairs`); memory stays at one item."""
    check_choice("source", source, ("shapes", "emoji"))
    _check_count("n", n)
    _check_seed(seed)
    if source == "shapes":
        world = ShapesWorld(WorldConfig(seed=seed))

        def item(i: int) -> tuple[dict, object]:
            s = world.arrays(i, modalities=("image", "caption"))
            fields = {
                "id": f"{i:06d}",
                "caption": s["caption"],
                "labels": dict(s["labels"]),
                "image": s["image"],
            }
            return fields, (lambda: world.render_audio(world.scene(i)))

        count = n
    else:
        ds = EmojiDataset("color", size=64, seed=seed, limit=n)

        def item(i: int) -> tuple[dict, object]:
            record, image, text = ds.raw(i)
            labels = ds.labels(record)
            del labels["emoji"]
            fields = {
                "id": record.codepoints.replace(" ", "-"),
                "caption": text,
                "labels": labels,
                "image": image,
            }
            return fields, None

        count = len(ds)
    if not speech.tts_available() and not (allow_procedural and source == "shapes"):
        speech.espeak_path()  # raises TTSUnavailableError with the install hint
    for i in range(count):
        fields, fallback = item(i)
        voice = speech.random_voice(np.random.default_rng([seed, i, 1]))
        if fallback is not None:
            fields["audio"], origin = speech.spoken_or_procedural(fields["caption"], fallback, voice)
        else:
            fields["audio"], origin = speech.speak(fields["caption"], voice), "espeak-ng"
        fields["labels"].update(
            accent=speech.ACCENTS.index(voice.accent), variant=speech.VARIANTS.index(voice.variant)
        )
        fields["meta"] = {
            "voice": voice.espeak_name,
            "speed": voice.speed,
            "pitch": voice.pitch,
            "audio": origin,
        }
        yield fields


def spoken_pairs(source: str, n: int, seed: int = 0, allow_procedural: bool = False) -> list[dict]:
    """``n`` spoken captions of ``source`` ("shapes" or "emoji"), each a dict of the fields to write.

    Keys: "id", "caption", "labels" (the source's labels + "accent" and "variant" indices into
    ACCENTS/VARIANTS), "image" (uint8 (H, W, 3)), "audio" (float32 (L,) at 16 kHz) and "meta" (voice name,
    speed, pitch, audio source). Item ``i``'s voice is drawn with ``numpy.random.default_rng([seed, i, 1])``.
    Without espeak-ng this raises :class:`TTSUnavailableError`, except that with ``allow_procedural=True`` the
    shapes world's procedural audio of each scene stands in (with a warning).
    """
    return list(iter_spoken_pairs(source, n, seed, allow_procedural))


def write_spoken_captions(
    out_dir: str | Path,
    source: str,
    n: int,
    seed: int = 0,
    allow_procedural: bool = False,
    overwrite: bool = False,
    replace_any: bool = False,
) -> int:
    """Write :func:`spoken_pairs` on disk (PNG + 16 kHz PCM16 WAV + captions.jsonl); return the count.

    Items are spoken and written one at a time, so any ``n`` fits in memory.
    """
    items = iter_spoken_pairs(source, n, seed, allow_procedural)  # checks the arguments and the engine
    extra: dict = {
        "source": source,
        "label_names": {"accent": list(speech.ACCENTS), "variant": list(speech.VARIANTS)},
    }
    if source == "emoji":
        names = label_names()
        extra["label_names"].update(group=names["group"], subgroup=names["subgroup"])
        extra.update(licence=LICENCE, credit=CREDIT)
    else:
        extra["label_names"].update(ShapesWorld(WorldConfig(seed=seed)).label_names)
    origins: set[str] = set()
    count = 0
    with DatasetWriter(
        out_dir,
        name=f"spoken-{source}",
        generator="mmtutorial.data.speech.spoken_pairs",
        generator_version="1",
        seed=seed,
        extra=extra,
        overwrite=overwrite,
        replace_any=replace_any,
    ) as writer:
        for item in items:
            writer.add(
                item["id"],
                item["caption"],
                item["labels"],
                image=item["image"],
                audio=item["audio"],
                sample_rate=speech.SAMPLE_RATE,
                meta=item["meta"],
            )
            origins.add(item["meta"]["audio"])
            count += 1
        extra["audio_source"] = sorted(origins)
        extra["tts"] = "espeak-ng " + speech.espeak_version() if "espeak-ng" in origins else None
    return count


# ---- digits ------------------------------------------------------------------------------------------------
def write_digits(
    out_dir: str | Path,
    size: int = 32,
    seed: int = 0,
    limit: int | None = None,
    overwrite: bool = False,
    replace_any: bool = False,
) -> int:
    """Write the digits in the on-disk format (PNG images + captions.jsonl); return the count."""
    _check_side("size", size)
    _check_seed(seed)
    if limit is not None:
        check_positive("limit", limit)
    ds = DigitsDataset(size, seed, limit)
    extra = {"size": size, "licence": DIGITS_LICENCE, "label_names": ds.label_names}
    with DatasetWriter(
        out_dir,
        name="sklearn-digits",
        generator="mmtutorial.data.digits.DigitsDataset",
        generator_version="1",
        seed=seed,
        extra=extra,
        overwrite=overwrite,
        replace_any=replace_any,
    ) as writer:
        for i in range(len(ds)):
            image = (ds.images[i].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            writer.add(f"{i:06d}", ds.caption(i), {"digit": int(ds.targets[i])}, image=image)
    return len(ds)

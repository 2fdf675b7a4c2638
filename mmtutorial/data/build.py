"""Build datasets on disk: the procedural world (``make_shapes_world``) or your own pairs (``import_pairs``).

``data_scripts/make_shapes_world.py`` and ``data_scripts/import_pairs.py`` are thin command-line wrappers.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Sequence
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from mmtutorial.data.disk import DatasetWriter
from mmtutorial.data.world import GENERATOR_VERSION, ShapesWorld, WorldConfig


def make_shapes_world(
    out: str | Path,
    n: int,
    config: WorldConfig | None = None,
    modalities: Sequence[str] = ShapesWorld.MODALITIES,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write samples ``0 .. n-1`` of ``ShapesWorld(config)`` to ``out`` (see :mod:`mmtutorial.data.disk`).

    The manifest's ``extra`` holds the full config and the label names, so the folder describes itself.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if "caption" not in modalities:
        raise ValueError(f"modalities must include 'caption' (every record has one), got {list(modalities)}")
    config = config or WorldConfig()
    config = dataclasses.replace(config, length=max(config.length, n))
    world = ShapesWorld(config)
    extra = {"config": dataclasses.asdict(config), "label_names": world.label_names}
    with DatasetWriter(
        out,
        name="shapes-world",
        generator="mmtutorial.data.ShapesWorld",
        generator_version=GENERATOR_VERSION,
        seed=config.seed,
        extra=extra,
        overwrite=overwrite,
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


_HEADERS = {("image", "caption"), ("filename", "caption"), ("file", "caption"), ("file_name", "caption")}


def read_pairs_csv(captions_csv: str | Path) -> list[tuple[str, str]]:
    """Rows ``(image filename, caption)`` of a CSV file; an optional header ``image,caption`` is skipped."""
    path = Path(captions_csv)
    if not path.is_file():
        raise ValueError(f"captions file {path} does not exist")
    rows: list[tuple[str, str]] = []
    with open(path, newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.reader(f), 1):
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


def import_pairs(
    images: str | Path,
    captions_csv: str | Path,
    out: str | Path,
    size: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Bring your own image-caption pairs into the dataset layout.

    ``captions_csv`` has columns ``image filename, caption`` (filenames relative to ``images``); an image may
    appear on several rows (several captions). Every image is checked to exist and decode BEFORE anything is
    written; a missing or unreadable one raises ``ValueError`` naming it. ``size``: resize to ``size x size``
    (bicubic) so that samples can be batched; ``None`` keeps each image's size. Images are stored as RGB PNG.
    """
    root = Path(images)
    if not root.is_dir():
        raise ValueError(f"images folder {root} does not exist")
    if size is not None and (not isinstance(size, int) or size < 1):
        raise ValueError(f"size must be a positive int or None, got {size!r}")
    rows = read_pairs_csv(captions_csv)
    for name, _ in rows:  # validate everything first: nothing half-written on a bad input
        p = root / name
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
        generator="mmtutorial.data.build.import_pairs",
        generator_version="1",
        seed=None,
        extra={"source_images": str(root), "source_captions": str(captions_csv), "size": size},
        overwrite=overwrite,
    ) as w:
        for k, (name, caption) in enumerate(
            tqdm(rows, desc="import pairs", unit="pair", disable=not progress)
        ):
            with Image.open(root / name) as im:
                rgb = im.convert("RGB")
            if size is not None:
                rgb = rgb.resize((size, size), Image.Resampling.BICUBIC)
            w.add(f"{k:06d}", caption, image=rgb, meta={"source": name})
    return Path(out)

#!/usr/bin/env python
"""Throughput of the procedural world: samples per second for each modality mix (median of several runs).

Compares the package's renderer (masks precomputed per shape and size, pasted with numpy) with a baseline
that draws every shape with Pillow's ImageDraw per sample, and reads back from disk. Target: >= 1,000
image+caption samples/s on one CPU core.

    python benchmarks/data_throughput.py [--n 2000] [--repeats 5] [--image-size 64]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pil_baseline(world, i: int):
    """Baseline: the same scene drawn shape by shape with PIL.ImageDraw, no cached masks."""
    import math

    import numpy as np
    from PIL import Image, ImageDraw

    from mmtutorial.data.world import PALETTE

    rng = world._rng(i)
    scene = world._scene(i, rng)
    S = world.config.image_size
    im = Image.new("RGB", (S, S))
    d = ImageDraw.Draw(im)
    for s in scene.shapes:
        x0, y0, n = s.left, s.top, s.px
        box = [x0, y0, x0 + n - 1, y0 + n - 1]
        col = PALETTE[s.color]
        if s.shape == "circle":
            d.ellipse(box, fill=col)
        elif s.shape == "square":
            d.rectangle([x0 + n * 0.12, y0 + n * 0.12, x0 + n * 0.88, y0 + n * 0.88], fill=col)
        elif s.shape == "triangle":
            d.polygon([(x0 + n / 2, y0), (x0 + n, y0 + n), (x0, y0 + n)], fill=col)
        elif s.shape == "star":
            pts = [
                (
                    x0 + n / 2 + (n / 2 if k % 2 == 0 else n / 5) * math.cos(-math.pi / 2 + k * math.pi / 5),
                    y0 + n / 2 + (n / 2 if k % 2 == 0 else n / 5) * math.sin(-math.pi / 2 + k * math.pi / 5),
                )
                for k in range(10)
            ]
            d.polygon(pts, fill=col)
        else:
            d.rectangle([x0 + n / 3, y0, x0 + 2 * n / 3, y0 + n], fill=col)
            d.rectangle([x0, y0 + n / 3, x0 + n, y0 + 2 * n / 3], fill=col)
    return np.asarray(im), world.caption(scene, rng)


def measure(fn, n: int, repeats: int) -> tuple[float, float]:
    """Median samples/s over ``repeats`` runs of ``n`` calls; peak traced memory (MiB) of one short run."""
    rates = []
    for r in range(repeats):
        start = time.perf_counter()
        for i in range(n):
            fn(r * n + i)
        rates.append(n / (time.perf_counter() - start))
    tracemalloc.start()
    for i in range(min(n, 50)):
        fn(i)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return statistics.median(rates), peak


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000, help="samples per run for image+caption (default 2000)")
    p.add_argument("--repeats", type=int, default=5, help="runs per row; the median is reported (default 5)")
    p.add_argument("--image-size", type=int, default=64)
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import torch

    from mmtutorial.data import ShapesWorld, WorldConfig, load_dataset, make_shapes_world

    torch.set_num_threads(1)
    world = ShapesWorld(WorldConfig(image_size=args.image_size, length=10**9))
    n_full = max(1, args.n // 4)
    rows = [
        ("image+caption, PIL ImageDraw (baseline)", lambda i: pil_baseline(world, i), args.n),
        ("image+caption, numpy arrays", lambda i: world.arrays(i, ("image", "caption")), args.n),
        ("image+caption, tensors (world.get)", lambda i: world.get(i, ("image", "caption")), args.n),
        ("audio only", lambda i: world.get(i, ("audio",)), n_full),
        ("video only", lambda i: world.get(i, ("video",)), n_full),
        ("all four modalities (world[i])", lambda i: world.get(i), n_full),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        n_disk = max(2, n_full // 2)
        make_shapes_world(Path(tmp) / "ds", n_disk, world.config, progress=False)
        ds = load_dataset(Path(tmp) / "ds")
        rows.append(("all four, read from disk (load_dataset)", lambda i: ds[i % n_disk], n_disk))
        results = [(name, *measure(fn, n, args.repeats)) for name, fn, n in rows]
    base = results[0][1]
    print(f"image size {args.image_size}, median of {args.repeats} runs, 1 torch thread")
    print(f"{'path':<42} {'samples/s':>10} {'x baseline':>11} {'peak MiB':>9}")
    for name, rate, peak in results:
        print(f"{name:<42} {rate:>10.0f} {rate / base:>11.2f} {peak:>9.2f}")
    ic = results[2][1]
    print(f"image+caption target 1000 samples/s: {'met' if ic >= 1000 else 'NOT met'} ({ic:.0f}/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

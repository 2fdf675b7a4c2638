"""Parameter count and CPU forward time of every encoder at one batch size.

    python benchmarks/encoders.py                 # batch 32, 5 timed repeats
    python benchmarks/encoders.py --batch 2 --repeats 1 --skip-pretrained   # a smoke run

Each encoder runs in eval mode under ``torch.inference_mode`` on the input it is built for (64 px images,
1 s of 16 kHz audio, 8-frame 64 px video, 16-token captions); the median of ``--repeats`` timed calls after
one warm-up is reported, with the time per sample and the ratio to the fastest encoder. Peak memory on the
CPU is not tracked by torch, so the table gives the size of the output tokens instead.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from mmtutorial.encoders import (
    AudioCNN,
    AudioTransformer,
    ImageCNN,
    ImageViT,
    TextTransformer,
    VideoCNN,
    VideoTransformer,
    count_parameters,
)


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls, after one untimed warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def candidates(
    batch: int, pretrained: bool
) -> list[tuple[str, torch.nn.Module, Callable[[torch.nn.Module], object]]]:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 3, 64, 64, generator=g)
    audio = torch.randn(batch, 16000, generator=g) * 0.1
    video = torch.rand(batch, 8, 3, 64, 64, generator=g)
    ids = torch.randint(3, 500, (batch, 16), generator=g)
    rows = [
        ("text: TextTransformer", TextTransformer(512, max_length=16), lambda m: m(ids)),
        ("image: ImageCNN", ImageCNN(), lambda m: m(images)),
        ("image: ImageViT", ImageViT(image_size=64, patch=8), lambda m: m(images)),
        ("audio: AudioCNN", AudioCNN(), lambda m: m(audio)),
        ("audio: AudioTransformer", AudioTransformer(), lambda m: m(audio)),
        ("video: VideoCNN (2+1)D", VideoCNN(), lambda m: m(video)),
        ("video: VideoTransformer", VideoTransformer(), lambda m: m(video)),
    ]
    if pretrained:
        from mmtutorial.encoders import pretrained_image_encoder, pretrained_text_encoder

        words = "a large red circle left of a small blue star".split()
        texts = [" ".join(words[: 3 + i % 7]) for i in range(batch)]
        rows += [
            ("text: MiniLM-L6 (pretrained)", pretrained_text_encoder(), lambda m: m(texts)),
            ("image: EffNet-Lite0 @224 (pretr.)", pretrained_image_encoder(224), lambda m: m(images)),
            ("image: EffNet-Lite0 @64 (pretr.)", pretrained_image_encoder(64), lambda m: m(images)),
        ]
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-pretrained", action="store_true")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    results = []
    for name, model, run in candidates(args.batch, not args.skip_pretrained):
        model.eval()
        with torch.inference_mode():
            out = run(model)
            sec = median_time(lambda m=model, r=run: r(m), args.repeats)
        results.append(
            dict(name=name, params=count_parameters(model), tokens=tuple(out.tokens.shape[1:]), sec=sec)
        )
    fastest = min(r["sec"] for r in results)
    print(f"CPU, {torch.get_num_threads()} threads, batch {args.batch}, median of {args.repeats}")
    head = ("encoder", "params", "tokens (T, D)", "ms/batch", "ms/sample", "x fastest")
    print(f"{head[0]:36s} {head[1]:>11s} {head[2]:>14s} {head[3]:>9s} {head[4]:>9s} {head[5]:>9s}")
    for r in results:
        print(
            f"{r['name']:36s} {r['params']:11,d} {str(r['tokens']):>14s} {1e3 * r['sec']:9.1f} "
            f"{1e3 * r['sec'] / args.batch:9.2f} {r['sec'] / fastest:9.1f}"
        )
    return results


if __name__ == "__main__":
    main()

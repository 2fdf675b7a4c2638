"""``mmtutorial train``: train a preset with the engine; writes config.json, metrics.jsonl, checkpoint.pt.

The config is the preset's defaults, then ``--config FILE.toml``, then each ``--set KEY=VALUE`` (with
``--resume``, the run's saved ``config.json`` comes first). Under ``torchrun`` every process runs this
command; they train one model with DDP over the global batch, and rank 0 alone writes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

EXAMPLES = """examples:
  mmtutorial train --preset clip-shapes --out runs/shapes
  mmtutorial train --preset clip-shapes --set steps=300 --set lr=1e-3 --out runs/long
  mmtutorial train --preset clip-shapes --config my.toml --out runs/mine --stop-at 50
  mmtutorial train --preset clip-shapes --out runs/mine --resume          # continue where it stopped
  torchrun --standalone --nproc_per_node 2 -m mmtutorial train --preset clip-shapes --out runs/ddp
  mmtutorial train --preset clip-emoji --out runs/emoji
  mmtutorial train --preset clip-emoji --set n_val=300 --set features=runs/emoji/features.pt --out runs/val"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from mmtutorial.cli.presets import PRESETS

    p = sub.add_parser(
        "train",
        help="train a preset (single process or torchrun/DDP)",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--preset", required=True, choices=sorted(PRESETS), help="what to train")
    p.add_argument("--config", type=Path, help="TOML file of config keys (tables are flattened)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config key (repeatable), e.g. --set steps=30")  # fmt: skip
    p.add_argument("--out", type=Path, required=True, help="run folder (config, metrics, checkpoint)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--stop-at", type=int, help="stop (and checkpoint) after this many optimizer steps")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmtutorial.cli.presets import get_preset
    from mmtutorial.training import close_distributed, config_from_dict, fit, init_distributed, load_config

    preset = get_preset(args.preset)
    base = None
    saved = args.out / "config.json"
    if args.resume and saved.exists():
        values = json.loads(saved.read_text())
        values.pop("config_class", None)
        if values.get("preset") != args.preset:
            print(f"error: {args.out} holds a {values.get('preset')!r} run, not {args.preset!r}")
            return 2
        base = config_from_dict(preset.Config, values)
    try:
        cfg = load_config(preset.Config, args.config, args.overrides, base=base)
    except ValueError as e:
        print(f"error: {e}")
        return 2
    if args.print_config:
        print(json.dumps(json.loads(json.dumps(cfg.__dict__)), indent=2))
        return 0
    if cfg.threads > 0:
        import torch

        torch.set_num_threads(cfg.threads)
    info = init_distributed(cfg.device)
    try:
        job = preset.build(cfg, args.out, training=True)
        from mmtutorial.cli.presets.base import eval_fn_for

        result = fit(
            job.model, job.loss_fn, job.train, cfg,
            eval_fn=eval_fn_for(job), out_dir=args.out, resume=args.resume, stop_at=args.stop_at,
        )  # fmt: skip
    except ValueError as e:
        print(f"error: {e}")
        return 2
    finally:
        close_distributed()
    if info.is_main and result.history:
        last = [r for r in result.history if r["kind"] == "train"][-1]
        print(
            f"step {result.step}/{cfg.steps}: loss {last['loss']:.4f}; {result.samples_per_s:.0f} samples/s "
            f"over {info.world} process(es); run folder {args.out}"
        )
    return 0

"""``mmtutorial eval``: retrieval metrics of a trained two-tower run, as JSON.

Rebuilds the run's preset from ``DIR/config.json``, loads ``DIR/checkpoint.pt`` (weights only) and embeds
a split. ``i2t_rK``: each image queries all captions of the split, a hit when one of its top K is its caption
(a caption shared word for word by several images answers each of them); ``t2i_rK``: the reverse.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

EXAMPLES = """examples:
  mmtutorial eval --checkpoint runs/shapes --out runs/shapes/test.json
  mmtutorial eval --checkpoint runs/shapes --split train --out train.json
  mmtutorial eval --checkpoint runs/val --split val --out val.json      # a run trained with n_val > 0"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate a trained run (retrieval recall@1/5 both ways)",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--checkpoint", type=Path, required=True, help="run folder (or its checkpoint.pt)")
    p.add_argument("--split", default="test", choices=("test", "train", "val"),
                   help="which split (default test; val: the preset's validation split, if any)")  # fmt: skip
    p.add_argument("--out", type=Path, required=True, help="JSON file to write the metrics to")
    p.set_defaults(func=run)


def evaluate_run(run_dir: Path, split: str = "test") -> dict:
    """Metrics dict of the run in ``run_dir`` on ``split`` (what ``eval`` writes)."""
    import torch

    from mmtutorial.cli.presets import get_preset
    from mmtutorial.cli.presets.base import retrieval_metrics
    from mmtutorial.training import CHECKPOINT, config_from_dict, load_checkpoint

    values = json.loads((run_dir / "config.json").read_text())
    values.pop("config_class", None)
    preset = get_preset(values.get("preset", ""))
    cfg = config_from_dict(preset.Config, values)
    ckpt = load_checkpoint(run_dir / CHECKPOINT)
    job = preset.build(cfg, run_dir, training=False)
    job.model.load_state_dict(ckpt["model"])
    job.model.eval()
    with torch.no_grad():
        img, txt, captions = job.embed(job.model, split)
    return {
        "preset": cfg.preset,
        "split": split,
        "step": int(ckpt["step"]),
        **retrieval_metrics(img, txt, captions),
    }


def run(args: argparse.Namespace) -> int:
    run_dir = args.checkpoint.parent if args.checkpoint.suffix == ".pt" else args.checkpoint
    if not (run_dir / "config.json").exists():
        print(f"error: {run_dir} is not a run folder (no config.json)")
        return 2
    try:
        metrics = evaluate_run(run_dir, args.split)
    except ValueError as e:
        print(f"error: {e}")
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics))
    return 0

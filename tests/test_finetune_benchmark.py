"""The fine-tuning benchmark runs at a tiny size; its exact memory accounting adds up (slow: loads MiniLM)."""

import importlib.util
from pathlib import Path

import pytest


@pytest.mark.slow
def test_finetune_benchmark_runs_tiny(capsys):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "finetune.py"
    spec = importlib.util.spec_from_file_location("bench_finetune", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = {r["method"]: r for r in mod.main(["--batch", "2", "--tokens", "8", "--repeats", "1"])}
    out = capsys.readouterr().out
    assert "x full" in out and "LoRA r=8 q,v" in out
    full, head, lora = rows["full"], rows["head only"], rows["LoRA r=8 q,v"]
    assert full["trainable"] == 22_713_216 + 384 * 4 + 4
    assert lora["trainable"] == 6 * 2 * 8 * (384 + 384) + 384 * 4 + 4  # r (in + out) per Linear, + head
    pooler = 384 * 384 + 384  # BERT's pooler is trainable but unused (mean pooling): it gets no gradient
    assert full["grad"] == 4 * (full["trainable"] - pooler)  # one fp32 gradient per used parameter
    assert full["optim"] == 2 * full["grad"]  # two fp32 AdamW moments
    assert head["act"] < full["act"] / 100  # a frozen backbone saves nothing for backward
    assert rows["LLRD (decay 0.65)"]["act"] == full["act"]

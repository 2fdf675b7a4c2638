"""Chapter 09 exercise checks accept the right answers and reject wrong ones."""

from __future__ import annotations

import json
import math

import pytest

from mmtutorial.exercises import ch09


def test_lr_schedule():
    def right(step):
        if step < 10:
            return 1e-3 * (step + 1) / 10
        p = min(1.0, (step - 10) / 90)
        return 1e-3 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))

    assert ch09.check_lr_schedule(right)
    with pytest.raises(AssertionError, match="step 0"):
        ch09.check_lr_schedule(lambda s: 1e-3 * s / 10 if s < 10 else right(s))
    with pytest.raises(AssertionError, match="not right"):
        ch09.check_lr_schedule(
            lambda s: right(s) if s < 10 else 1e-3 * 0.5 * (1 + math.cos(math.pi * (s - 10) / 90))
        )
    with pytest.raises(AssertionError):
        ch09.check_lr_schedule(None)


def test_micro_batch():
    assert ch09.check_micro_batch(32)
    for wrong, words in ((64, "grad_accum"), (128, "global"), (16, "hint"), (None, "assign")):
        with pytest.raises(AssertionError, match=words):
            ch09.check_micro_batch(wrong)


def test_best_step(tmp_path):
    rows = [{"step": s, "kind": "train", "loss": 1.0} for s in range(1, 31)]
    rows += [{"step": 10, "kind": "eval", "i2t_r1": 0.2}, {"step": 20, "kind": "eval", "i2t_r1": 0.5},
             {"step": 30, "kind": "eval", "i2t_r1": 0.4}]  # fmt: skip
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert ch09.check_best_step(tmp_path, 20)
    with pytest.raises(AssertionError, match="last step"):
        ch09.check_best_step(tmp_path, 30)
    with pytest.raises(AssertionError, match="hint"):
        ch09.check_best_step(tmp_path, 10)
    with pytest.raises(AssertionError, match="assign"):
        ch09.check_best_step(tmp_path, None)

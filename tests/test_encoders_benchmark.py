"""The encoder benchmark runs end to end at a tiny size (its figures are not asserted)."""

import importlib.util
from pathlib import Path


def test_benchmark_runs_tiny(capsys):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "encoders.py"
    spec = importlib.util.spec_from_file_location("bench_encoders", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    results = mod.main(["--batch", "1", "--repeats", "1", "--skip-pretrained"])
    assert len(results) == 7
    assert all(r["params"] > 0 and r["sec"] > 0 for r in results)
    out = capsys.readouterr().out
    assert "ImageViT" in out and "x fastest" in out

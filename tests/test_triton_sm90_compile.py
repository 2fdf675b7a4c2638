"""The static sm_90 report (benchmarks/triton_sm90_compile.py) on a CPU-only machine: every kernel compiles
for Hopper with the JIT's specialisation; bf16 builds do not spill and have no memory fence; the fused
backward's scratch (launch.SCRATCH_ROWS_PER_SM) covers the CTAs per SM that its configurations reach."""

import os
import pathlib
import subprocess
import sys

import pytest

from mmtutorial.losses.triton.launch import BWD_CONFIGS, SCRATCH_ROWS_PER_SM

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _report(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, str(ROOT / "benchmarks" / "triton_sm90_compile.py"), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_bf16_builds_compile_without_spills_or_fences_and_fit_the_scratch():
    first = _report("--first-config-only")  # every kernel's default configuration
    bwd = _report("--kernels", "clip_bwd", "siglip_bwd")  # every configuration of the fused backwards
    for out in (first, bwd):
        assert out.returncode == 0, out.stdout + out.stderr  # exit 1 on a failure, a spill or a fence
        assert "FAILED" not in out.stdout
    lines = (first.stdout + bwd.stdout).splitlines()
    rows = [line.split() for line in lines if line.strip() and not line.startswith("kernel")]
    assert len(rows) == 7 + 2 * len(BWD_CONFIGS)  # 7 kernels (clip_fwd twice: one pass, gated second pass)
    for row in rows:
        name, dtype, tile, ctas = row[0], row[1], row[2], row[10]
        spill, stl, fences, relaxed, wgmma = row[7], row[8], row[11], row[13], row[14]
        assert dtype == "bf16" and spill == stl == fences == "0" and relaxed == "yes", (name, tile)
        assert int(wgmma) > 0, f"{name} {tile}: no tensor-core (wgmma) instruction"
        if name.endswith("_bwd"):
            block_m = int(tile.split("x")[0])
            assert int(ctas) * block_m <= SCRATCH_ROWS_PER_SM, (name, tile, ctas)

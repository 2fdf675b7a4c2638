"""The environment resolves for workshop laptops: macOS on Apple silicon and Windows (x86-64).

Resolution only (``uv pip compile --python-platform ...`` against the package index, with the Linux lock as
constraints): it proves every pinned package has a wheel or an sdist for the platform and that Triton (Linux
wheels only) stays out. It does not install or run anything there. Needs the package index (skipped
without it).

Findings this test pins down (also in the README):
- macOS: Apple silicon only (torch 2.11 has no Intel-mac wheels), macOS 14 or newer (faiss-cpu 1.15.1 ships
  ``macosx_14_0_arm64`` wheels only), hence ``MACOSX_DEPLOYMENT_TARGET=14.0``.
- Python 3.11.5 or newer: the lock's soupsieve 4.1.3 (via nbconvert) needs it; we resolve for Python 3.12.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).with_name("uv")

PLATFORMS = {
    "macos-arm64": ("aarch64-apple-darwin", {"MACOSX_DEPLOYMENT_TARGET": "14.0"}),
    "windows-x86_64": ("x86_64-pc-windows-msvc", {}),
}


def compile_for(platform: str, extra_env: dict[str, str], tmp_path: Path) -> tuple[int, str, str]:
    out = tmp_path / f"{platform}.txt"
    cmd = [
        str(UV), "pip", "compile", "pyproject.toml", "--extra", "dev",
        "--python-platform", platform, "--python-version", "3.12",
        "-c", "requirements-lock.txt", "--quiet", "--no-header", "-o", str(out),
    ]  # fmt: skip
    env = {**os.environ, **extra_env}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    return proc.returncode, proc.stderr, out.read_text() if out.exists() else ""


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PLATFORMS))
def test_environment_resolves_without_triton(name, tmp_path):
    if not UV.exists():
        pytest.skip("uv is not installed in this environment (make env installs it)")
    platform, env = PLATFORMS[name]
    code, err, resolved = compile_for(platform, env, tmp_path)
    if code != 0 and re.search(r"(?i)(network|connect|dns|timed out|offline)", err):
        pytest.skip(f"the package index is not reachable: {err.strip().splitlines()[-1]}")
    assert code == 0, f"the environment does not resolve for {name} ({platform}):\n{err}"
    pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", resolved, flags=re.M))
    assert pins.get("torch") == "2.11.0", f"{name}: torch pin missing or changed: {pins.get('torch')}"
    assert "triton" not in pins, f"{name}: triton (Linux wheels only) must stay behind its marker"
    assert not any(p.startswith("nvidia-") for p in pins), f"{name}: CUDA wheels resolved for {name}"

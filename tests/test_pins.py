"""The environment is pinned in three places that must agree: pyproject.toml, environment.yml, the lock."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        m = PIN.match(line.split(";")[0].strip())  # an environment marker may follow the pin
        assert m, f"not an exact pin: {line!r}"
        out[_norm(m.group(1))] = m.group(2)
    return out


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return _pins(project["dependencies"] + project["optional-dependencies"]["dev"])


def environment_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return _pins([p for p in pip_section if not p.startswith("-e")])


def lock_pins() -> dict[str, str]:
    lines = (ROOT / "requirements-lock.txt").read_text().splitlines()
    return _pins([ln for ln in lines if ln.strip() and not ln.startswith("#")])


def test_every_dependency_is_pinned_exactly():
    assert len(pyproject_pins()) >= 20


def test_environment_yml_agrees_with_pyproject():
    assert environment_pins() == pyproject_pins()


def test_lock_agrees_with_pyproject():
    lock = lock_pins()
    for name, version in pyproject_pins().items():
        assert lock.get(name) == version, f"{name}: pyproject pins {version}, lock has {lock.get(name)}"


def test_stack_matches_the_gpu_machine():
    pins = pyproject_pins()
    assert pins["torch"] == "2.11.0" and pins["triton"] == "3.6.0"
    assert pins["transformers"].startswith("5.")
    major, minor, _ = (int(x) for x in pins["numpy"].split("."))
    assert (major, minor) < (2, 4), "Triton's CPU interpreter needs numpy < 2.4"


def test_installed_versions_are_the_pinned_ones():
    from importlib.metadata import version

    for name in ("torch", "numpy", "triton", "transformers", "nbval"):
        assert version(name).split("+")[0] == pyproject_pins()[name]

"""A guard the grader installs in a student's kernel: file access outside the notebook's folder is refused.

It is a Python audit hook (PEP 578), so it sees ``open`` (built-in and ``os.open``), removals, renames and
directory changes made through Python, refuses those outside the allowed folders with ``PermissionError`` and
records them for the report. It catches accidents and casual attempts; it is not a security boundary (C code
and subprocesses are not watched): grade notebooks from people you do not trust inside a container as well.

Allowed: writes under the notebook's folder, the grader's private temporary folder and the usual caches;
reads there and under the Python installation, the package and system folders (``/usr``, ``/lib``, ...).
"""

from __future__ import annotations

import getpass
import os
import sys
import tempfile
from pathlib import Path

violations: list[dict] = []
_state = {"installed": False, "busy": False, "write": (), "read": ()}
_SENSITIVE = ("/etc/shadow", "/etc/gshadow", "/etc/sudoers")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _roots(paths) -> tuple[str, ...]:
    out = []
    for p in paths:
        if p:
            out.append(os.path.realpath(os.fspath(p)).rstrip("/") + "/")
    return tuple(dict.fromkeys(out))


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    return any((path + "/").startswith(r) for r in roots)


def _check(action: str, path, write: bool) -> None:
    if isinstance(path, int) or path is None:
        return  # an already-open file descriptor
    path = os.fsdecode(path)
    real = os.path.realpath(path)
    allowed = _state["write"] if write else _state["read"]
    if real in _SENSITIVE or not _inside(real, allowed):
        violations.append({"action": action, "path": real})
        raise PermissionError(f"sandbox: {action} {real!r} is outside the notebook's folder")


def _hook(event: str, args: tuple) -> None:
    if _state["busy"]:
        return
    _state["busy"] = True
    try:
        if event == "open":
            path, mode, flags = args
            write = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(flags & _WRITE_FLAGS)
            _check("write" if write else "read", path, write)
        elif event in ("os.remove", "os.rmdir", "os.mkdir", "os.truncate", "os.chmod", "shutil.rmtree"):
            _check(event, args[0], True)
        elif event == "os.rename":
            _check(event, args[0], True)
            _check(event, args[1], True)
    finally:
        _state["busy"] = False


def install(folder: str | os.PathLike, tmp: str | os.PathLike) -> None:
    """Guard this process: writes only under ``folder``, ``tmp`` and caches; reads there and system dirs."""
    if _state["installed"]:
        raise ValueError("the sandbox is already installed in this process")
    home = Path.home()
    caches = [
        home / ".cache",
        home / ".config" / "matplotlib",
        home / ".ipython",
        home / ".local" / "share" / "jupyter",
    ]
    # torch.compile's and Triton's caches: torch names its folder after the user under the temporary folder.
    user = getpass.getuser()
    compiled = [Path(d) / f"torchinductor_{user}" for d in {tempfile.gettempdir(), "/tmp"}]
    compiled.append(home / ".triton")
    write = [folder, tmp, *caches, *compiled, os.environ.get("MPLCONFIGDIR"), "/dev/null", "/dev/shm"]
    import mmtutorial

    read = write + [sys.prefix, sys.base_prefix, sys.exec_prefix, Path(mmtutorial.__file__).parent,
                    "/usr", "/lib", "/lib64", "/etc", "/proc", "/sys", "/dev", "/opt", "/run"]  # fmt: skip
    _state["write"], _state["read"] = _roots(write), _roots(read)
    _state["installed"] = True
    sys.addaudithook(_hook)

"""Engines by name, and where clusters keep their files by default."""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile

from ._engine import Engine
from ._errors import ClusterError

# engine name -> (module, class); the module is imported only when the engine is used
ENGINES: dict[str, tuple[str, str]] = {
    "pg": ("aws_wrapper.testing._pg", "PgEngine"),
    "mysql": ("aws_wrapper.testing._mysql", "MariaDbEngine"),
}
_ALIASES = {"postgres": "pg", "postgresql": "pg", "mariadb": "mysql"}
_MIN_SHM_BYTES = 1 << 30


def engine_name(name: str) -> str:
    """The canonical engine name for ``name`` (``pg`` / ``mysql``; ``postgres``, ``mariadb`` … are aliases)."""
    canonical = _ALIASES.get(name.lower(), name.lower())
    if canonical not in ENGINES:
        raise ClusterError(f"unknown engine {name!r} (known: {', '.join(sorted(ENGINES))})")
    return canonical


def load_engine(name: str) -> Engine:
    """A new engine object for ``name``; ClusterError when its module is not importable."""
    module_name, class_name = ENGINES[engine_name(name)]
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ClusterError(f"engine {name!r} is not available: {exc}") from exc
    engine: Engine = cls()
    return engine


def engine_missing(name: str) -> str | None:
    """Why a cluster of engine ``name`` cannot run here (None when it can): used for clean test skips."""
    try:
        return load_engine(name).missing()
    except ClusterError as exc:
        return str(exc)


def default_work_base() -> str:
    """Where a cluster's work directory goes by default: ``$AWS_WRAPPER_CLUSTER_WORK_DIR``, else ``/dev/shm``
    when it is a writable memory file system with room (copying and writing data directories there is many
    times faster than on a disk), else the system temporary directory."""
    configured = os.environ.get("AWS_WRAPPER_CLUSTER_WORK_DIR")
    if configured:
        return configured
    shm = "/dev/shm"
    with contextlib.suppress(OSError):
        st = os.statvfs(shm)
        if os.access(shm, os.W_OK | os.X_OK) and st.f_bavail * st.f_frsize >= _MIN_SHM_BYTES:
            return shm
    return tempfile.gettempdir()

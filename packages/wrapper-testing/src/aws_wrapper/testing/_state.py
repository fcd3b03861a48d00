"""On-disk state of a CLI-managed cluster, so separate ``aws-wrapper-cluster`` invocations work together.

``aws-wrapper-cluster up`` starts a detached *supervisor* process that owns the servers and proxies (they are
its children) and answers commands on a unix socket. The state directory holds::

    cluster.json     pid of the supervisor, socket path, last status, environment for ``run``
    control.sock     the supervisor's socket (elsewhere when the directory's path is too long for a socket)
    supervisor.log   the supervisor's output (kept when start-up fails)

The protocol is one JSON object per line each way: ``{"op": ..., "args": {...}}`` then
``{"ok": true, "result": ..., "status": {...}}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from ._errors import ClusterError
from ._proc import gone

STATE_FILE = "cluster.json"
SOCKET_FILE = "control.sock"
LOG_FILE = "supervisor.log"
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux


def state_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``explicit``, else ``$AWS_WRAPPER_CLUSTER_DIR``, else ``.cluster`` under the current directory."""
    chosen = explicit or os.environ.get("AWS_WRAPPER_CLUSTER_DIR") or Path.cwd() / ".cluster"
    return Path(chosen).absolute()


def socket_path(directory: Path) -> Path:
    """Where the supervisor of ``directory`` listens (a short path in the temp dir when needed)."""
    path = directory / SOCKET_FILE
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(directory).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"aws-wrapper-cluster-{digest}.sock"


def read_state(directory: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((directory / STATE_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ClusterError(f"unreadable cluster state in {str(directory)!r}: {exc}") from exc
    if not isinstance(data, dict):
        raise ClusterError(f"unreadable cluster state in {str(directory)!r}")
    return data


def write_state(directory: Path, data: dict[str, Any]) -> None:
    """Replace the state file atomically (readers never see half a file)."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{STATE_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, directory / STATE_FILE)


def remove_state(directory: Path, *, keep_log: bool = False) -> None:
    """Delete the files of the state directory, and the directory itself once empty."""
    names = [STATE_FILE, SOCKET_FILE] + ([] if keep_log else [LOG_FILE])
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()
    with contextlib.suppress(FileNotFoundError):
        socket_path(directory).unlink()
    with contextlib.suppress(OSError):
        directory.rmdir()


def supervisor_alive(state: dict[str, Any]) -> bool:
    pid = state.get("pid")
    return isinstance(pid, int) and pid > 0 and not gone(pid)


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def request(
    sock: str | os.PathLike[str], op: str, args: dict[str, Any] | None = None, timeout: float = 300.0
) -> Any:
    """Send one command to a supervisor and return its reply (a dict with ``result`` and ``status``)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(os.fspath(sock))
            s.sendall(json.dumps({"op": op, "args": args or {}}).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except OSError as exc:
            raise ClusterError(f"cannot reach the cluster supervisor at {os.fspath(sock)!r}: {exc}") from exc
    if not buf:
        raise ClusterError(f"the cluster supervisor closed the connection during {op!r}")
    reply = json.loads(buf)
    if not reply.get("ok"):
        raise ClusterError(str(reply.get("error") or f"{op!r} failed"))
    return reply

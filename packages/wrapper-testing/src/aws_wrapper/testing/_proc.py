"""Server processes as children of this process: start (optionally as another OS user), stop, kill with every
child, and read the log tail for error messages.

Servers are started with ``start_new_session=True`` so a Ctrl-C in a terminal reaches the harness, which then
shuts them down in order, instead of reaching the servers directly. When called from the main thread and
``setpriv`` exists, a server also gets a parent-death signal (SIGKILL), so it dies with the harness even when
the harness itself is killed and cannot run its cleanup. (The kernel ties that signal to the *thread* that
started the child, hence the main-thread condition.)
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import pwd
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ._errors import ClusterError

log = logging.getLogger("aws_wrapper.testing")


def server_user(name: str) -> str | None:
    """The OS user a server must run as: ``name`` when this process is root, else None (run as ourselves)."""
    return name if os.geteuid() == 0 else None


def chown_to(path: Path, user: str | None) -> None:
    """Give ``path`` (not recursive) to ``user`` and its primary group; nothing when ``user`` is None."""
    if user is None:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _ids(user: str | None) -> tuple[int | None, int | None, list[int] | None]:
    if user is None:
        return None, None, None
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid, []


def spawn(
    argv: Sequence[str],
    *,
    user: str | None,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a long-running server process as a child of this process, its output appended to ``log_file``."""
    args = list(argv)
    setpriv = shutil.which("setpriv")
    if setpriv and threading.current_thread() is threading.main_thread():
        args = [setpriv, "--pdeathsig", "KILL", "--", *args]
    uid, gid, groups = _ids(user)
    with open(log_file, "ab") as out:
        try:
            return subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
                user=uid,
                group=gid,
                extra_groups=groups,
            )
        except OSError as exc:
            raise ClusterError(f"cannot start {args[0]!r}: {exc}") from exc


def run(
    argv: Sequence[str],
    *,
    user: str | None,
    timeout: float = 120.0,
    env: Mapping[str, str] | None = None,
    what: str = "",
) -> str:
    """Run a short tool to completion (as ``user``); raise ClusterError with its output when it fails."""
    uid, gid, groups = _ids(user)
    try:
        done = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env=dict(env) if env is not None else None,
            check=False,
            user=uid,
            group=gid,
            extra_groups=groups,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ClusterError(f"{what or argv[0]!s} failed: {exc}") from exc
    output = (done.stdout or b"").decode(errors="replace") + (done.stderr or b"").decode(errors="replace")
    if done.returncode != 0:
        raise ClusterError(
            f"{what or argv[0]!s} failed with exit code {done.returncode}: {output.strip()[-2000:]}"
        )
    return output


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc; empty when unknown)."""
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                kids.extend(int(k) for k in Path(f"/proc/{pid}/task/{task}/children").read_text().split())
    except OSError:
        return []
    return kids


def gone(pid: int) -> bool:
    """True when ``pid`` is no longer running (absent or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def kill_tree(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGKILL ``proc`` and all its direct children at once, then reap ``proc`` and wait until the children
    are gone. The parent is stopped first so it cannot fork new children while they are being listed.
    (Every PostgreSQL child calls setsid(), so killing a process group would miss them.)"""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGSTOP)
    kids = children(proc.pid)
    for kid in kids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(kid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired as exc:
        raise ClusterError(f"process {proc.pid} survived SIGKILL for {timeout} s") from exc
    deadline = time.monotonic() + timeout
    while not all(gone(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.002)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
    """Ask ``proc`` to shut down with ``sig``; kill it with all its children if it is not gone in ``timeout``."""
    if proc.poll() is not None:
        return
    kids = children(proc.pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        log.warning("process %s did not stop within %s s after signal %s; killing it", proc.pid, timeout, sig)
        kill_tree(proc)
    deadline = time.monotonic() + 5.0
    while not all(gone(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.002)


def remove_sysv_segment(shmid: int) -> None:
    """Mark a System V shared memory segment for removal (it goes once nothing is attached); errors ignored."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.shmctl(ctypes.c_int(shmid), ctypes.c_int(0), None)  # 0 = IPC_RMID


def log_tail(path: Path | None, lines: int = 15) -> str:
    """The last ``lines`` lines of a server log, for error messages ('' when unreadable)."""
    if path is None:
        return ""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 8192))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])

"""Server processes: start, stop, kill with every child, die with the harness, log tails."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aws_wrapper.testing import ClusterError
from aws_wrapper.testing._proc import children, gone, kill_tree, log_tail, run, spawn, stop


def _wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_kill_tree_kills_the_process_and_its_children_at_once(tmp_path: Path) -> None:
    proc = spawn(["sh", "-c", "sleep 60 & sleep 60 & wait"], user=None, log_file=tmp_path / "log")
    try:
        deadline = time.monotonic() + 5
        while len(children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        kids = children(proc.pid)
        assert len(kids) == 2
        started = time.monotonic()
        kill_tree(proc)
        assert time.monotonic() - started < 2
        assert proc.returncode == -signal.SIGKILL
        assert all(gone(k) for k in kids)
    finally:
        kill_tree(proc)


def test_stop_sends_the_signal_and_reaps(tmp_path: Path) -> None:
    proc = spawn(["sleep", "60"], user=None, log_file=tmp_path / "log")
    stop(proc, signal.SIGTERM, timeout=5)
    assert proc.returncode == -signal.SIGTERM
    stop(proc)  # a stopped process: nothing to do


def test_stop_kills_what_ignores_the_signal(tmp_path: Path) -> None:
    proc = spawn(["sh", "-c", "trap '' TERM; sleep 60"], user=None, log_file=tmp_path / "log")
    time.sleep(0.1)
    stop(proc, signal.SIGTERM, timeout=0.3)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is not installed")
def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def test_servers_die_with_a_killed_harness(tmp_path: Path) -> None:
    harness = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from aws_wrapper.testing._proc import spawn
        proc = spawn(["sleep", "60"], user=None, log_file=Path({str(tmp_path / "log")!r}))
        print(proc.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", harness], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not gone(child)
        # setpriv arms the parent-death signal just before it executes the server: killing the harness earlier
        # (a window of about a millisecond) would leave nothing armed yet
        deadline = time.monotonic() + 5.0
        while _comm(child) != "sleep" and time.monotonic() < deadline:
            time.sleep(0.005)
        parent.kill()
        parent.wait(5)
        assert _wait_gone(child, timeout=15.0), "the server outlived its harness"
    finally:
        parent.kill()
        parent.wait(5)


def test_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert log_tail(log, 3) == "line 97\nline 98\nline 99"
    assert log_tail(tmp_path / "missing") == ""
    assert log_tail(None) == ""


def test_run_reports_output_on_failure() -> None:
    assert run(["sh", "-c", "echo fine"], user=None) == "fine\n"
    with pytest.raises(ClusterError, match="exit code 3: oops"):
        run(["sh", "-c", "echo oops >&2; exit 3"], user=None, what="the tool")
    with pytest.raises(ClusterError, match="failed"):
        run(["/nonexistent/tool"], user=None)


def test_children_of_a_missing_process_is_empty() -> None:
    assert children(2**22 + 12345) == []
    assert gone(2**22 + 12345)
    assert not gone(os.getpid())

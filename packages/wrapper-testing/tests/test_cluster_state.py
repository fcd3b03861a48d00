"""The CLI's state directory and the supervisor protocol."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aws_wrapper.testing import ClusterError
from aws_wrapper.testing._state import (
    read_state,
    remove_state,
    request,
    socket_path,
    state_dir,
    supervisor_alive,
    write_state,
)


def test_state_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AWS_WRAPPER_CLUSTER_DIR", raising=False)
    assert state_dir() == tmp_path / ".cluster"
    monkeypatch.setenv("AWS_WRAPPER_CLUSTER_DIR", str(tmp_path / "env"))
    assert state_dir() == tmp_path / "env"
    assert state_dir(tmp_path / "explicit") == tmp_path / "explicit"


def test_socket_path_is_short_enough(tmp_path: Path) -> None:
    assert socket_path(tmp_path) == tmp_path / "control.sock"
    deep = tmp_path / ("d" * 120)
    path = socket_path(deep)
    assert len(str(path)) < 108
    assert path != deep / "control.sock"
    assert socket_path(deep) == path  # stable


def test_write_read_remove(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    assert read_state(directory) is None
    write_state(directory, {"pid": os.getpid(), "ready": True})
    state = read_state(directory)
    assert state == {"pid": os.getpid(), "ready": True}
    assert supervisor_alive(state)
    assert not supervisor_alive({"pid": 2**22 + 4321})
    (directory / "supervisor.log").write_text("log")
    remove_state(directory, keep_log=True)
    assert (directory / "supervisor.log").exists()
    assert read_state(directory) is None
    remove_state(directory)
    assert not directory.exists()


def test_unreadable_state_is_reported(tmp_path: Path) -> None:
    (tmp_path / "cluster.json").write_text("{nope")
    with pytest.raises(ClusterError, match="unreadable cluster state"):
        read_state(tmp_path)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Path]:
    """A one-request-at-a-time fake supervisor: echoes the op, fails on op 'bad'."""
    path = tmp_path / "s.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(4)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                req = json.loads(conn.makefile().readline())
                reply = {"ok": req["op"] != "bad", "result": req, "status": {}, "error": "it went wrong"}
                conn.sendall(json.dumps(reply).encode() + b"\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path
    listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
    listener.close()
    thread.join(5)
    assert not thread.is_alive()


def test_request_round_trip(server: Path) -> None:
    reply = request(server, "failover", {"instance": "2"}, timeout=5)
    assert reply["result"] == {"op": "failover", "args": {"instance": "2"}}
    with pytest.raises(ClusterError, match="it went wrong"):
        request(server, "bad", timeout=5)


def test_request_to_nobody(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="cannot reach the cluster supervisor"):
        request(tmp_path / "none.sock", "status", timeout=1)

"""The detached process behind ``aws-wrapper-cluster up``: owns one ``LocalCluster`` and serves commands.

Run as ``python -m aws_wrapper.testing._supervisor --state-dir DIR --config JSON``. Everything happens on the
main thread (servers started from it die with it even if it is killed, see ``_proc.spawn``). SIGTERM, SIGINT
and SIGHUP tear the cluster down, as does the ``down`` command.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from . import _state
from ._cluster import LocalCluster
from ._errors import ClusterError

log = logging.getLogger("aws_wrapper.testing")


class _Stop(Exception):
    """Raised by the signal handler to leave the serve loop."""


def _instance(args: dict[str, Any], required: bool = False) -> str | int | None:
    value = args.get("instance")
    if value is None or value == "":
        if required:
            raise ClusterError("this command needs an instance (id, dns name, address or index)")
        return None
    text = str(value)
    return int(text) if text.isdigit() else text


def _ops(cluster: LocalCluster) -> dict[str, Callable[[dict[str, Any]], Any]]:
    def node_id(node: Any) -> str:
        return str(node.instance_id)

    return {
        "status": lambda a: None,
        "failover": lambda a: node_id(cluster.failover(_instance(a))),
        "crash": lambda a: node_id(cluster.crash(_instance(a))),
        "promote": lambda a: node_id(cluster.promote(_instance(a))),
        "restart": lambda a: node_id(cluster.restart(_instance(a))),
        "stop": lambda a: node_id(cluster.stop(_instance(a, True) or 0)),
        "blackhole": lambda a: cluster.blackhole(_instance(a)),
        "heal": lambda a: cluster.heal(_instance(a)),
        "latency": lambda a: cluster.proxy(_instance(a, True) or 0).latency(float(a["seconds"])),
        "add": lambda a: node_id(cluster.add_instance()),
        "remove": lambda a: cluster.remove_instance(_instance(a, True) or 0),
        "facts": lambda a: cluster.set_facts(a.get("writer"), a.get("hidden") or ()),
        "events": lambda a: [e.to_dict() for e in cluster.events],
    }


def _snapshot(cluster: LocalCluster, directory: Path, sock: Path) -> dict[str, Any]:
    status = cluster.status().to_dict()
    _state.write_state(
        directory,
        {"pid": os.getpid(), "socket": str(sock), "ready": True, "status": status, "env": cluster.env()},
    )
    return status


def _handle(conn: socket.socket, cluster: LocalCluster, directory: Path, sock: Path) -> bool:
    """Serve one request; returns False when the supervisor should exit."""
    with conn:
        conn.settimeout(30)
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = conn.recv(65536)
            if not chunk:
                return True
            buf += chunk
        request = json.loads(buf)
        op, args = str(request.get("op")), dict(request.get("args") or {})
        if op == "down":
            try:
                cluster.down()
                reply: dict[str, Any] = {"ok": True, "result": None, "status": cluster.status().to_dict()}
            except Exception as exc:
                reply = {"ok": False, "error": f"teardown failed: {exc}"}
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps(reply).encode() + b"\n")
            return False
        handler = _ops(cluster).get(op)
        try:
            if handler is None:
                raise ClusterError(f"unknown command {op!r}")
            result = handler(args)
            reply = {"ok": True, "result": result, "status": _snapshot(cluster, directory, sock)}
        except Exception as exc:
            log.warning("command %s failed: %s", op, exc)
            reply = {"ok": False, "error": str(exc)}
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps(reply, default=str).encode() + b"\n")
        return True


def serve(directory: Path, config: dict[str, Any]) -> int:
    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise _Stop(signal.Signals(signum).name)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    sock_path = _state.socket_path(directory)
    cluster = LocalCluster(**config)
    server: socket.socket | None = None
    try:
        started = time.monotonic()
        cluster.up()
        with contextlib.suppress(FileNotFoundError):
            sock_path.unlink()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(sock_path))
        os.chmod(sock_path, 0o600)
        server.listen(8)
        _snapshot(cluster, directory, sock_path)
        log.warning("cluster up in %.2f s; serving on %s", time.monotonic() - started, sock_path)
        while True:
            conn, _ = server.accept()
            if not _handle(conn, cluster, directory, sock_path):
                break
        return 0
    except _Stop as stop:
        log.warning("stopping on %s", stop)
        return 0
    except BaseException as exc:
        _state.write_state(directory, {"pid": os.getpid(), "ready": False, "error": str(exc)})
        traceback.print_exc()
        return 1
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        try:
            cluster.down()
        except Exception:
            traceback.print_exc()
        if server is not None:
            server.close()
        with contextlib.suppress(FileNotFoundError):
            sock_path.unlink()
        state = _state.read_state(directory) or {}
        if state.get("pid") == os.getpid() and state.get("ready"):
            _state.remove_state(directory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aws-wrapper-cluster-supervisor")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--config", required=True, help="LocalCluster keyword arguments as JSON")
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return serve(Path(ns.state_dir), json.loads(ns.config))


if __name__ == "__main__":
    sys.exit(main())

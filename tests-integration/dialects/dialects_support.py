"""Helpers of the dialect integration tests (imported by name: see conftest.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from aws_wrapper.testing import LocalCluster

CHILD = Path(__file__).with_name("dialects_child.py")

#: What a plain connection to each flavour must be detected as (the MariaDB aurora flavour needs the
#: local variant of the Aurora MySQL dialect, registered with auto_detect).
EXPECTED = {
    ("pg", "aurora"): "aurora-pg",
    ("pg", "rds"): "rds-pg",
    ("pg", "multi-az"): "multi-az-pg",
    ("pg", "plain"): "pg",
    ("mysql", "aurora"): "aurora-mysql-local",
    ("mysql", "rds"): "rds-mysql",
    ("mysql", "multi-az"): "multi-az-mysql",
    ("mysql", "plain"): "mysql",
}
TOPOLOGY_FLAVOURS = ("aurora", "multi-az")


def target(engine: str) -> Any:
    if engine == "pg":
        import psycopg

        return psycopg.Connection.connect
    import mysql.connector

    return mysql.connector.connect


def connect_kwargs(cluster: LocalCluster, host: str | None = None, **extra: Any) -> dict[str, Any]:
    info = cluster.conninfo()
    kwargs: dict[str, Any] = {"host": host or info["host"], "port": info["port"], "user": info["user"]}
    if cluster.engine.name == "pg":
        kwargs["dbname"] = info["dbname"]
    else:
        kwargs["database"] = info["database"]
        kwargs["use_pure"] = True
    kwargs.update(extra)
    return kwargs


def cluster_hosts(cluster: LocalCluster, by: str = "address") -> tuple[tuple[str, str], set[tuple[str, str]]]:
    """(writer, readers) as (host, role) pairs, hosts by proxy address or by RDS instance DNS name."""
    status = cluster.status()
    pairs = [
        (inst.endpoint.host if by == "address" else inst.endpoint.dns_name, inst.role)
        for inst in status.instances
    ]
    writers = [p for p in pairs if p[1] == "writer"]
    assert len(writers) == 1, status
    return writers[0], {p for p in pairs if p[1] == "reader"}


def split(hosts: list[list[object]]) -> tuple[tuple[str, str], set[tuple[str, str]]]:
    pairs = [(str(h[0]), str(h[2])) for h in hosts]
    writers = [p for p in pairs if p[1] == "writer"]
    assert len(writers) == 1, hosts
    return writers[0], {p for p in pairs if p[1] == "reader"}


class Child:
    """A wrapper connection in a child process inside the cluster's DNS namespace."""

    def __init__(
        self, cluster: LocalCluster, kwargs: dict[str, Any], *, register_local: bool = False
    ) -> None:
        spec = {"engine": cluster.engine.name, "kwargs": kwargs, "register_local": register_local}
        argv = cluster.command([sys.executable, str(CHILD), json.dumps(spec)])
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.first = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(10)
            assert self.process.stderr is not None
            raise AssertionError(f"child ended: {self.process.stderr.read()[-3000:]}")
        result: dict[str, Any] = json.loads(line)
        return result

    def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
                self.process.wait(10)
            except Exception:
                self.process.kill()
                self.process.wait(10)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Child:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def connect_by_address(cluster: LocalCluster, engine: str, **extra: Any) -> Any:
    """A wrapper connection without plugins to ``cluster``, whose instance ids are proxy addresses (pattern
    ``?``); MariaDB through the ``aurora-mysql-local`` dialect (fixture ``local_aurora_mysql``)."""
    from aws_wrapper.core import AwsWrapperConnection

    kwargs = connect_kwargs(cluster, cluster_instance_host_pattern="?", plugins="", **extra)
    if engine == "mysql":
        kwargs["wrapper_dialect"] = "aurora-mysql-local"
    return AwsWrapperConnection.connect(target(engine), **kwargs)

"""Process, file and admin-connection helpers of the MariaDB engine."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._engine import Node
from ._errors import ClusterError

MYSQL_OS_USER = "mysql"
_SOCKET_PATH_LIMIT = 100  # sun_path holds 108 bytes; mariadbd refuses longer socket paths


@dataclass(frozen=True)
class NodePaths:
    """Where one node's files live: next to its data directory (``node.data_dir.parent``)."""

    directory: Path
    tmpdir: Path
    config: Path
    error_log: Path
    pid_file: Path
    socket: Path

    @classmethod
    def of(cls, node: Node) -> NodePaths:
        directory = node.data_dir.parent
        sock = directory / "mysqld.sock"
        if len(str(sock)) > _SOCKET_PATH_LIMIT:
            digest = hashlib.sha256(str(directory).encode()).hexdigest()[:16]
            sock = Path("/tmp") / f"aws-wrapper-mariadb-{digest}.sock"
        return cls(
            directory,
            directory / "tmp",
            directory / "my.cnf",
            directory / "error.log",
            directory / "mysqld.pid",
            sock,
        )


def mysql_ids() -> tuple[int, int]:
    entry = pwd.getpwnam(MYSQL_OS_USER)
    return entry.pw_uid, entry.pw_gid


def chown_mysql(*paths: Path) -> None:
    uid, gid = mysql_ids()
    for path in paths:
        os.chown(path, uid, gid)


def check_reachable(path: Path) -> None:
    """Fail early when the ``mysql`` OS user cannot traverse to ``path`` (e.g. a 0700 pytest tmp dir)."""
    uid, gid = mysql_ids()
    for parent in [path, *path.parents]:
        try:
            info = parent.stat()
        except FileNotFoundError:
            continue
        if info.st_uid == uid:
            ok = bool(info.st_mode & stat.S_IXUSR)
        elif info.st_gid == gid:
            ok = bool(info.st_mode & stat.S_IXGRP)
        else:
            ok = bool(info.st_mode & stat.S_IXOTH)
        if not ok:
            raise ClusterError(
                f"the {MYSQL_OS_USER!r} OS user cannot reach {str(path)!r}: directory {str(parent)!r} is not "
                "searchable by it (chmod o+x, or use a work dir outside it)"
            )


def log_tail(path: Path | None, lines: int = 25) -> str:
    if path is None:
        return "(no log)"
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 16384))
            text = handle.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(cannot read {str(path)!r}: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def port_open(host: str, port: int, timeout: float = 0.25) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def pid_is_server(pid: int, config: Path) -> bool:
    """True while ``pid`` is a live (non-zombie) mariadbd started with ``config``: never signal anything else."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and f"--defaults-file={config}".encode() in cmdline


def signal_and_wait(node: Node, paths: NodePaths, sig: signal.Signals, timeout: float) -> bool:
    """Send ``sig`` to the node's server and wait for it to be gone. False on timeout.

    The server is normally our child (``node.process``) and is reaped here; a server started by another
    process (a separate CLI invocation) is found through its pid file and only waited for.
    """
    proc = node.process
    if proc is not None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
        return True
    pid = read_pid(paths.pid_file)
    if pid is None or not pid_is_server(pid, paths.config):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while pid_is_server(pid, paths.config):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def is_running(node: Node, paths: NodePaths) -> bool:
    if node.process is not None:
        return node.process.poll() is None
    pid = read_pid(paths.pid_file)
    return pid is not None and pid_is_server(pid, paths.config)


def load_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, path)


class AdminSession:
    """One admin connection (mysql-connector, pure-Python mode) straight to a node's server address."""

    def __init__(self, node: Node, user: str, connect_timeout: int, read_timeout: int) -> None:
        try:
            import mysql.connector
            from mysql.connector.constants import DEFAULT_CONFIGURATION
        except ImportError as exc:  # pragma: no cover - reported by MariaDbEngine.missing()
            raise ClusterError("mysql-connector-python is not installed") from exc
        self.node = node
        self._errors: type[Exception] = mysql.connector.Error
        options: dict[str, Any] = {
            "host": node.server_host,
            "port": node.port,
            "user": user,
            "password": "",
            "use_pure": True,
            "autocommit": True,
            "connection_timeout": connect_timeout,
            # Straight to the server on loopback: never TLS, also when the server offers it (IAM mode), where
            # a handshake costs the pure-Python connector about 0.1 s per admin session.
            "ssl_disabled": True,
        }
        if "read_timeout" in DEFAULT_CONFIGURATION:  # connector >= 9.3; older ones have no query timeout
            options["read_timeout"] = read_timeout
            options["write_timeout"] = read_timeout
        try:
            self._cnx: Any = mysql.connector.connect(**options)
        except self._errors as exc:
            raise ClusterError(
                f"cannot connect to node {node.index} at {node.server_host}:{node.port}: {exc}"
            ) from exc

    def rows(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        try:
            cursor = self._cnx.cursor()
            try:
                cursor.execute(sql, params or None)
                fetched = cursor.fetchall() if cursor.with_rows else []
            finally:
                cursor.close()
        except self._errors as exc:
            first_line = " ".join(sql.split())[:200]
            raise ClusterError(
                f"node {self.node.index} ({self.node.server_host}:{self.node.port}): {first_line!r} failed: {exc}"
            ) from exc
        return [tuple(row) for row in fetched]

    def value(self, sql: str, params: tuple[object, ...] = ()) -> object:
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def dict_row(self, sql: str) -> dict[str, object] | None:
        """First row of ``sql`` keyed by column name (``SHOW SLAVE STATUS``), or None when it has no row."""
        try:
            cursor = self._cnx.cursor()
            try:
                cursor.execute(sql)
                fetched = cursor.fetchall()
                names = list(cursor.column_names)
            finally:
                cursor.close()
        except self._errors as exc:
            raise ClusterError(f"node {self.node.index}: {sql!r} failed: {exc}") from exc
        return dict(zip(names, fetched[0])) if fetched else None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._cnx.close()

    def __enter__(self) -> AdminSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

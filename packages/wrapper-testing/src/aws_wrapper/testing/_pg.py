"""PostgreSQL 15 streaming replication as an ``Engine`` (see ``_engine.py``; recipes section 1).

Each node is a ``postgres`` postmaster started directly as a child of this process (as the ``postgres`` OS
user when we are root), listening on its own loopback address with no unix socket. The writer is created with
``initdb`` (cached, see ``_pg_files``); replicas are file copies taken under the backup API (``pg_basebackup``
with ``AWS_WRAPPER_PG_CLONE=basebackup``). Replication connects server to server, never through the fault
proxies. Per-node settings live in ``node.conf`` (rewritten after every clone), cluster-wide ones in
``postgresql.conf`` (copied by every clone).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from . import _pg_facts as facts
from . import _pg_files, _proc
from ._engine import Flavour, Layout, Node
from ._errors import ClusterError

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("aws_wrapper.testing")

ADMIN_APP = "aws-wrapper-cluster"
# dynamic_shared_memory_type = mmap keeps dynamic segments in the data directory: posix ones would stay in
# /dev/shm after every crash.
_CLUSTER_CONF = """
# --- aws-wrapper-testing local cluster ---
port = {port}
unix_socket_directories = ''
max_connections = 200
shared_buffers = '16MB'
wal_level = replica
max_wal_senders = 16
wal_keep_size = '256MB'
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = '1s'
wal_retrieve_retry_interval = '100ms'
fsync = off
synchronous_commit = on
autovacuum = off
jit = off
dynamic_shared_memory_type = mmap
log_min_messages = warning
log_line_prefix = '%m [%p] '
include_if_exists = 'node.conf'
"""
_HBA = "host all all 127.0.0.0/8 trust\nhost replication all 127.0.0.0/8 trust\n"
#: IAM mode (``node.extra``, see ``iam.py``): the PAM service and the IAM users of the cluster.
_IAM_SERVICE = "iam.pam_service"
_IAM_USERS = "iam.users"


def _iam_of(node: Node) -> tuple[str, list[str]] | None:
    service = node.extra.get(_IAM_SERVICE)
    if not service:
        return None
    return service, [u for u in node.extra.get(_IAM_USERS, "").split(",") if u]


def find_bin_dir() -> Path | None:
    """The directory of the PostgreSQL server binaries: $AWS_WRAPPER_PG_BIN, else the newest Debian-style
    /usr/lib/postgresql/<major>/bin, else the directory of ``postgres`` or ``pg_ctl`` on PATH."""
    configured = os.environ.get("AWS_WRAPPER_PG_BIN")
    if configured:
        return Path(configured)
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        majors = sorted((p for p in root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        for major in reversed(majors):
            if (major / "bin" / "postgres").exists():
                return major / "bin"
    for tool in ("postgres", "pg_ctl"):
        found = shutil.which(tool)
        if found:
            return Path(found).resolve().parent
    return None


class PgEngine:
    """PostgreSQL streaming replication (one writer, N hot standbys)."""

    name: ClassVar[str] = "pg"
    default_port: ClassVar[int] = 5432
    default_user: ClassVar[str] = "postgres"

    def __init__(self, bin_dir: Path | None = None, os_user: str = "postgres") -> None:
        self.bin_dir = bin_dir if bin_dir is not None else find_bin_dir()
        self.os_user = _proc.server_user(os_user)
        self._conns: dict[int, psycopg.Connection[tuple[object, ...]]] = {}
        self._lock = threading.Lock()
        self._writer_id: str | None = None
        self._override: str | None = None
        self._hidden: frozenset[str] = frozenset()

    # -- capability -------------------------------------------------------------------------------------------

    def missing(self) -> str | None:
        if self.bin_dir is None or not (self.bin_dir / "postgres").exists():
            return (
                "postgresql server binaries not found (set AWS_WRAPPER_PG_BIN to the directory of 'postgres')"
            )
        for tool in ("initdb", "pg_basebackup"):
            if not (self.bin_dir / tool).exists():
                return f"{tool!r} not found in {str(self.bin_dir)!r}"
        try:
            import psycopg  # noqa: F401
        except ImportError:
            return "psycopg is not installed (pip install 'aws-wrapper-testing[pg]')"
        if self.os_user is not None:
            try:
                pwd.getpwnam(self.os_user)
            except KeyError:
                return f"running as root but there is no {self.os_user!r} OS user to run postgres as"
        return None

    def _bin(self, tool: str) -> str:
        if self.bin_dir is None:
            raise ClusterError("postgresql server binaries not found")
        return str(self.bin_dir / tool)

    # -- admin connections ------------------------------------------------------------------------------------

    def _connect(self, node: Node, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        import psycopg

        try:
            return psycopg.connect(
                host=node.server_host,
                port=node.port,
                user="postgres",
                dbname=dbname,
                autocommit=True,
                connect_timeout=5,
                application_name=ADMIN_APP,
                # harness writes must never wait for a synchronous standby (e.g. right after a promotion)
                options="-c synchronous_commit=local",
            )
        except psycopg.Error as exc:
            raise ClusterError(
                f"cannot connect to {node.instance_id!r} at {node.server_host}:{node.port}: {exc}\n"
                + _proc.log_tail(node.log_file)
            ) from exc

    def _conn(self, node: Node) -> psycopg.Connection[tuple[object, ...]]:
        with self._lock:
            conn = self._conns.get(node.index)
            if conn is not None and not conn.closed and not conn.broken:
                return conn
        conn = self._connect(node)
        with self._lock:
            old = self._conns.pop(node.index, None)
            self._conns[node.index] = conn
        if old is not None:
            old.close()
        return conn

    def _drop_conn(self, node: Node) -> None:
        with self._lock:
            conn = self._conns.pop(node.index, None)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        """Close every admin connection (the cluster calls this on teardown)."""
        with self._lock:
            conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()

    def query(self, node: Node, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        import psycopg

        for attempt in (1, 2):
            conn = self._conn(node)
            try:
                cur = conn.execute(sql.encode(), params or None)
                return list(cur.fetchall()) if cur.description is not None else []
            except psycopg.OperationalError:
                self._drop_conn(node)
                if attempt == 2 or not self._alive(node):
                    raise
        raise AssertionError("unreachable")

    def _scalar(self, node: Node, sql: str, params: tuple[object, ...] = ()) -> object:
        rows = self.query(node, sql, params)
        return rows[0][0] if rows else None

    # -- processes --------------------------------------------------------------------------------------------

    @staticmethod
    def _alive(node: Node) -> bool:
        return node.process is not None and node.process.poll() is None

    def _prepare_dir(self, node: Node) -> None:
        home = node.data_dir.parent
        home.mkdir(parents=True, exist_ok=True)
        self._check_reachable(home)
        _proc.chown_to(home, self.os_user)
        if node.log_file is None:
            node.log_file = home / "server.log"
        node.log_file.touch()
        _proc.chown_to(node.log_file, self.os_user)

    def _check_reachable(self, path: Path) -> None:
        """The server's OS user must be able to traverse every parent directory of its data directory."""
        if self.os_user is None:
            return
        entry = pwd.getpwnam(self.os_user)
        for parent in path.resolve().parents:
            st = parent.stat()
            if st.st_mode & 0o001 or (st.st_uid == entry.pw_uid and st.st_mode & 0o100):
                continue
            if st.st_gid == entry.pw_gid and st.st_mode & 0o010:
                continue
            raise ClusterError(
                f"the {self.os_user!r} OS user cannot reach {str(path)!r}: {str(parent)!r} is not searchable "
                "by it (choose a work_dir under /dev/shm or /tmp)"
            )

    def _write_node_conf(self, node: Node) -> None:
        conf = node.data_dir / "node.conf"
        conf.write_text(
            f"listen_addresses = '{node.server_host}'\n"
            f"cluster_name = '{node.instance_id}'\n"
            f"{facts.IDENTITY_SETTING} = '{node.instance_id}'\n"
        )
        _proc.chown_to(conf, self.os_user)

    def _launch(self, node: Node) -> None:
        if self._alive(node):
            raise ClusterError(f"instance {node.instance_id!r} is already running")
        self._write_node_conf(node)
        with contextlib.suppress(FileNotFoundError):
            (node.data_dir / "postmaster.pid").unlink()  # only ever left by a crash we reaped ourselves
        assert node.log_file is not None
        node.process = _proc.spawn(
            [self._bin("postgres"), "-D", str(node.data_dir)], user=self.os_user, log_file=node.log_file
        )
        self._wait_ready(node)

    def _wait_ready(self, node: Node, timeout: float = 60.0) -> None:
        """Wait until the postmaster reports 'ready' or 'standby' in postmaster.pid (as pg_ctl does)."""
        pid_file = node.data_dir / "postmaster.pid"
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            proc = node.process
            if proc is None or proc.poll() is not None:
                raise ClusterError(
                    f"postgres of {node.instance_id!r} exited during start-up\n"
                    + _proc.log_tail(node.log_file)
                )
            with contextlib.suppress(OSError):
                lines = pid_file.read_text().splitlines()
                if len(lines) >= 8 and lines[7].strip() in ("ready", "standby"):
                    return
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"postgres of {node.instance_id!r} not ready after {timeout} s\n"
                    + _proc.log_tail(node.log_file)
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.02)

    def start(self, node: Node, layout: Layout) -> None:
        self._launch(node)

    def stop(self, node: Node) -> None:
        self._drop_conn(node)
        if node.process is not None:
            _proc.stop(node.process, signal.SIGINT)  # SIGINT = fast shutdown

    def crash(self, node: Node) -> None:
        segment = self._sysv_segment(node)
        if node.process is not None:
            _proc.kill_tree(node.process)
        self._drop_conn(node)
        if segment is not None:  # a killed postmaster leaves its System V segment behind; nobody uses it now
            _proc.remove_sysv_segment(segment)

    @staticmethod
    def _sysv_segment(node: Node) -> int | None:
        """The id of the postmaster's System V shared memory segment (line 7 of postmaster.pid)."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((node.data_dir / "postmaster.pid").read_text().splitlines()[6].split()[1])
        return None

    # -- cluster building -------------------------------------------------------------------------------------

    def init_writer(self, node: Node, layout: Layout) -> None:
        self._prepare_dir(node)
        if node.data_dir.exists():
            shutil.rmtree(node.data_dir)
        assert self.bin_dir is not None
        _pg_files.initdb(self.bin_dir, node.data_dir, self.os_user)
        conf = _CLUSTER_CONF.format(port=node.port)
        if layout.synchronous:  # every clone inherits it; harness sessions commit locally and never wait
            conf += "synchronous_standby_names = 'ANY 1 (*)'\n"
        with open(node.data_dir / "postgresql.conf", "a") as f:
            f.write(conf)
        with open(node.data_dir / "pg_hba.conf", "a") as f:
            f.write(_HBA)
        iam = _iam_of(node)
        if iam is not None:  # first match wins: the IAM users' pam lines go before initdb's trust lines
            hba = node.data_dir / "pg_hba.conf"
            lines = "".join(f"host all {user} 127.0.0.0/8 pam pamservice={iam[0]}\n" for user in iam[1])
            hba.write_text(
                "# IAM users: RDS IAM tokens checked by aws-wrapper-testing's verifier\n"
                + lines
                + hba.read_text()
            )
        self._launch(node)
        self._writer_id = node.instance_id
        scripts = facts.install_scripts(layout.flavour)
        if scripts:
            self.query(node, f"CREATE ROLE {facts.STATE_ROLE} NOLOGIN")
            with self._connect(node, "template1") as conn:
                for script in scripts:
                    conn.execute(script.encode())
        if layout.database not in ("postgres", "template1"):
            self.query(node, f'CREATE DATABASE "{layout.database}" STRATEGY = FILE_COPY')
        for script in scripts:
            self.query(node, script)
        if iam is not None:
            self._create_iam_users(node, layout, iam[1])
        self._publish(node, layout)

    def _create_iam_users(self, node: Node, layout: Layout, users: list[str]) -> None:
        """IAM users as on RDS: members of ``rds_iam``, with what an application needs (the database, its
        public schema, the monitoring views the wrapper's topology queries read)."""
        from psycopg import sql

        self.query(node, "CREATE ROLE rds_iam NOLOGIN")
        for user in users:
            name = sql.Identifier(user)
            for stmt in (
                sql.SQL("CREATE ROLE {} LOGIN").format(name),
                sql.SQL("GRANT rds_iam, pg_monitor TO {}").format(name),
                sql.SQL("GRANT ALL ON DATABASE {} TO {}").format(sql.Identifier(layout.database), name),
            ):
                self._conn(node).execute(stmt)
        databases = dict.fromkeys((layout.database, "postgres"))
        for database in databases:
            with self._connect(node, database) as conn:
                schemas = [
                    str(row[0])
                    for row in conn.execute(
                        "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname IN ('aurora_sim', 'rds_tools')"
                    ).fetchall()
                ]
                for user in users:
                    name = sql.Identifier(user)
                    conn.execute(sql.SQL("GRANT ALL ON SCHEMA public TO {}").format(name))
                    for schema in schemas:  # the emulated facts (aurora_replica_status(), rds_tools.*)
                        nsp = sql.Identifier(schema)
                        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(nsp, name))
                        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(nsp, name))
                        conn.execute(
                            sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {} TO {}").format(nsp, name)
                        )

    def add_replica(self, node: Node, source: Node, layout: Layout) -> None:
        self.stop(node)
        self._prepare_dir(node)
        if node.data_dir.exists():
            shutil.rmtree(node.data_dir)
        if os.environ.get("AWS_WRAPPER_PG_CLONE", "copy") == "basebackup":
            self._basebackup(node, source)
        else:
            try:
                self._copy_clone(node, source)
            except ClusterError as exc:
                log.warning("file copy clone of %s failed (%s); using pg_basebackup", node.instance_id, exc)
                shutil.rmtree(node.data_dir, ignore_errors=True)
                self._basebackup(node, source)
        self._launch(node)
        self._wait_streaming(node, source)
        if self._published_ids(source) != [n.instance_id for n in layout.nodes]:
            self._publish(source, layout)
        self._wait_caught_up(node, source)

    def _copy_clone(self, node: Node, source: Node) -> None:
        """Clone with the low-level backup API around a file copy (a dedicated session holds the backup)."""
        with self._connect(source) as conn:
            conn.execute("SELECT pg_catalog.pg_backup_start(%s, true)", (f"clone of {node.instance_id}",))
            try:
                _pg_files.copy_tree(source.data_dir, node.data_dir, skip_wal=True)
            finally:
                row = conn.execute("SELECT labelfile FROM pg_catalog.pg_backup_stop(false)").fetchone()
        assert row is not None
        _pg_files.prepare_copy(node.data_dir, str(row[0]), self.os_user)
        with open(node.data_dir / "postgresql.auto.conf", "a") as f:
            f.write(f"primary_conninfo = '{self._primary_conninfo(node, source)}'\n")

    def _basebackup(self, node: Node, source: Node) -> None:
        _proc.run(
            [
                self._bin("pg_basebackup"),
                "-h",
                source.server_host,
                "-p",
                str(source.port),
                "-U",
                "postgres",
                "-D",
                str(node.data_dir),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
                "-d",
                f"application_name={node.instance_id}",
            ],
            user=self.os_user,
            what=f"pg_basebackup of {node.instance_id!r} from {source.instance_id!r}",
        )

    @staticmethod
    def _primary_conninfo(node: Node, source: Node) -> str:
        return (
            f"host={source.server_host} port={source.port} user=postgres application_name={node.instance_id}"
        )

    def promote(self, node: Node, layout: Layout) -> None:
        if not self._scalar(node, "SELECT pg_catalog.pg_is_in_recovery()"):
            raise ClusterError(f"instance {node.instance_id!r} is not a replica")
        self.query(node, "SELECT pg_catalog.pg_promote(false)")
        deadline = time.monotonic() + 60.0
        while self._scalar(node, "SELECT pg_catalog.pg_is_in_recovery()"):
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"promotion of {node.instance_id!r} timed out\n" + _proc.log_tail(node.log_file)
                )
            time.sleep(0.002)
        self._writer_id = node.instance_id
        self._publish(node, layout)  # a write: the new writer accepts writes once this returns

    def follow(self, node: Node, source: Node, layout: Layout) -> None:
        if self._ahead_of(node, source):
            log.info(
                "instance %s is ahead of the new writer %s; re-cloning it",
                node.instance_id,
                source.instance_id,
            )
            self.add_replica(node, source, layout)
            return
        from psycopg import sql

        conninfo = self._primary_conninfo(node, source)
        stmt = sql.SQL("ALTER SYSTEM SET primary_conninfo = {}").format(sql.Literal(conninfo))
        self._conn(node).execute(stmt)
        self.query(node, "SELECT pg_catalog.pg_reload_conf()")
        try:
            self._wait_streaming(node, source, timeout=10.0)
            self._wait_caught_up(node, source)
        except ClusterError:
            log.warning("instance %s did not follow %s; re-cloning it", node.instance_id, source.instance_id)
            self.add_replica(node, source, layout)

    def set_facts(self, node: Node, layout: Layout, writer: str | None, hidden: frozenset[str]) -> None:
        self._override = writer
        self._hidden = frozenset(hidden)
        self._publish(node, layout)

    # -- replication progress ---------------------------------------------------------------------------------

    def replication_position(self, node: Node) -> int:
        """How far ``node`` has WAL (its LSN as an integer): the writer's current LSN, a replica's last
        received (or replayed) LSN. The cluster promotes the replica with the highest position."""
        value = self._scalar(
            node,
            "SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN"
            " greatest(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn())"
            " ELSE pg_catalog.pg_current_wal_lsn() END - '0/0'::pg_lsn",
        )
        return int(str(value)) if value is not None else 0

    def _ahead_of(self, node: Node, source: Node) -> bool:
        """True when ``node`` has WAL past the point where ``source``'s timeline forked (so it cannot follow)."""
        rows = self.query(source, "SELECT pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn())")
        timeline = str(rows[0][0])[:8]
        if int(timeline, 16) <= 1:
            return False
        history = self._scalar(source, "SELECT pg_catalog.pg_read_file(%s)", (f"pg_wal/{timeline}.history",))
        lines = [line.split("\t") for line in str(history or "").splitlines() if line.strip()]
        if not lines:
            return False
        fork = self._scalar(source, "SELECT %s::pg_lsn - '0/0'::pg_lsn", (lines[-1][1].strip(),))
        return self.replication_position(node) > int(str(fork))

    def _wait_streaming(self, node: Node, source: Node, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        for _ in _backoff(deadline):
            rows = self.query(
                node, "SELECT status, sender_host, sender_port FROM pg_catalog.pg_stat_wal_receiver"
            )
            if rows and rows[0] == ("streaming", source.server_host, source.port):
                return
        raise ClusterError(
            f"instance {node.instance_id!r} does not stream from {source.instance_id!r} after {timeout} s\n"
            + _proc.log_tail(node.log_file)
        )

    def _wait_caught_up(self, node: Node, source: Node, timeout: float = 30.0) -> None:
        target = self._scalar(source, "SELECT pg_catalog.pg_current_wal_lsn()")
        deadline = time.monotonic() + timeout
        for _ in _backoff(deadline):
            if self._scalar(node, "SELECT pg_catalog.pg_last_wal_replay_lsn() >= %s::pg_lsn", (str(target),)):
                return
        raise ClusterError(f"instance {node.instance_id!r} did not catch up with {source.instance_id!r}")

    # -- facts ------------------------------------------------------------------------------------------------

    def _published_ids(self, node: Node) -> list[str]:
        rows = self.query(
            node,
            "SELECT i ->> 'id' FROM jsonb_array_elements(coalesce(pg_catalog.shobj_description("
            "(SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %s), 'pg_authid'), '{}')::jsonb -> 'instances') i",
            (facts.STATE_ROLE,),
        )
        return [str(r[0]) for r in rows]

    def _publish(self, writer: Node, layout: Layout) -> None:
        """Write the state document on the writer, then wait until every replica streaming from it has it."""
        if layout.flavour is Flavour.PLAIN:
            return
        from psycopg import sql

        doc = facts.state_document(layout, self._writer_id, self._override, self._hidden)
        stmt = sql.SQL("COMMENT ON ROLE {} IS {}").format(sql.Identifier(facts.STATE_ROLE), sql.Literal(doc))
        self._conn(writer).execute(stmt)
        for node in layout.nodes:
            if node is writer or not self._alive(node):
                continue
            rows = self.query(
                node, "SELECT sender_host, sender_port, status FROM pg_catalog.pg_stat_wal_receiver"
            )
            if rows and rows[0] == (writer.server_host, writer.port, "streaming"):
                self._wait_caught_up(node, writer, timeout=10.0)


def _backoff(deadline: float) -> Iterator[None]:
    delay = 0.002
    while True:
        yield
        if time.monotonic() > deadline:
            return
        time.sleep(delay)
        delay = min(delay * 1.5, 0.05)

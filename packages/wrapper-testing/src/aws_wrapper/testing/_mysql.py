"""The MariaDB engine of the local cluster: GTID replication plus emulated Aurora / RDS / Multi-AZ facts.

A pristine template data directory (``mariadb-install-db``, cached between clusters; accounts and
``layout.database`` included) is kept per cluster; every node, the writer included, starts as a copy of it.
A replica follows its source with ``MASTER_USE_GTID=slave_pos`` from the empty position, i.e. it replays the
source's whole binary log (``log-slave-updates`` keeps that log complete on every node), which also carries the
emulated facts.

See ``docs/local-cluster-mysql.md`` for the facts per flavour and the one query string that differs from
upstream's Aurora MySQL dialect.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import time
from pathlib import Path
from typing import ClassVar

from . import _mysql_build as build
from . import _mysql_repl as repl
from . import _mysql_sql as msql
from ._engine import Flavour, Layout, Node
from ._errors import ClusterError
from ._mysql_proc import (
    MYSQL_OS_USER,
    AdminSession,
    NodePaths,
    check_reachable,
    chown_mysql,
    is_running,
    load_state,
    log_tail,
    mysql_ids,
    port_open,
    save_state,
    signal_and_wait,
)
from ._mysql_template import MARKER as TEMPLATE_MARKER
from ._mysql_template import copy_tree, ensure_template
from ._proc import spawn

logger = logging.getLogger("aws_wrapper.testing")

#: Node.extra key, "writer" | "replica": decides read_only when start() restarts a node.
ROLE_KEY = "mysql.role"
#: Node.extra keys of IAM mode (see ``iam.py``): PAM service, IAM users, the cluster's TLS certificate and key.
IAM_SERVICE_KEY = "iam.pam_service"
IAM_USERS_KEY = "iam.users"
IAM_CERT_KEY = "iam.ssl_cert"
IAM_KEY_KEY = "iam.ssl_key"


class MariaDbEngine:
    """MariaDB 10.x servers as cluster nodes. Instantiate with no arguments; all methods block until done."""

    name: ClassVar[str] = "mysql"
    default_port: ClassVar[int] = 3306
    default_user: ClassVar[str] = "root"  # the client account (Layout.user)
    admin_user: ClassVar[str] = "aws_wrapper_admin"  # harness account; clients use root (no READ_ONLY ADMIN)
    repl_user: ClassVar[str] = "repl"
    repl_password: ClassVar[str] = "repl"
    # layout.synchronous: how long a commit waits for a replica's acknowledgement before going asynchronous
    semi_sync_timeout_ms: ClassVar[int] = 10_000
    start_timeout: ClassVar[float] = 60.0
    stop_timeout: ClassVar[float] = 60.0
    catch_up_timeout: ClassVar[float] = 60.0
    # replication_position: how long a replica whose source is gone may take to notice it (its IO thread
    # still queues what the source sent before it died)
    drain_timeout: ClassVar[float] = 2.0
    connect_timeout: ClassVar[int] = 5
    read_timeout: ClassVar[int] = 15  # longer than a semi-sync wait; long waits are done in 1 s steps

    def __init__(self, *, cache_dir: Path | None = None) -> None:
        self._cache = cache_dir
        self._plugin: Path | None = None

    # -- environment -------------------------------------------------------------------------------------------

    def missing(self, flavour: Flavour | None = None) -> str | None:
        """Why MariaDB clusters cannot run here, or None. Without ``flavour`` (or for ``aurora``) this also
        builds and installs the aurora_sim plugin, fetching the server headers with apt when needed."""
        if build.find_program("mariadbd") is None:
            return "server binary 'mariadbd' not found (apt-get install mariadb-server)"
        if build.find_program("mariadb-install-db") is None:
            return "'mariadb-install-db' not found (apt-get install mariadb-server)"
        try:
            import mysql.connector  # noqa: F401
        except ImportError:
            return "mysql-connector-python is not installed (pip install 'aws-wrapper-testing[mysql]')"
        if os.geteuid() != 0:
            return (
                "the mysql engine needs root: mariadbd runs as the 'mysql' OS user and the aurora_sim plugin "
                "goes into the server's plugin dir"
            )
        try:
            mysql_ids()
        except KeyError:
            return "the 'mysql' OS user does not exist (it comes with the mariadb-server package)"
        if flavour in (None, Flavour.AURORA):
            try:
                self._ensure_plugin()
            except ClusterError as exc:
                return f"the aurora flavour needs the aurora_sim plugin and it cannot be built: {exc}"
        return None

    def _server(self) -> build.ServerInfo:
        binary = build.find_program("mariadbd")
        if binary is None:
            raise ClusterError("server binary 'mariadbd' not found (apt-get install mariadb-server)")
        return build.server_info(binary)

    def _ensure_plugin(self) -> Path:
        if self._plugin is None or not self._plugin.is_file():
            self._plugin = build.ensure_plugin(self._server(), self._cache)
        return self._plugin

    # -- Engine protocol ---------------------------------------------------------------------------------------

    def init_writer(self, node: Node, layout: Layout) -> None:
        """Template (once per cluster), the writer's data dir as a copy of it, start, then the flavour's facts."""
        self._validate(node, layout)
        if layout.flavour is Flavour.AURORA:
            self._ensure_plugin()
        self._ensure_template(layout)
        self._fresh_data_dir(node, layout)
        self._launch(node, layout, replica=False, semi_sync=False)
        with self._session(node) as session:
            for statement in msql.ddl(layout.flavour):
                session.rows(statement)
            if layout.flavour is Flavour.AURORA:
                session.rows(*msql.aurora_seed(node))
            self._sync_facts(session, layout)
            if layout.synchronous:
                session.rows("SET GLOBAL rpl_semi_sync_master_enabled = 1")
            self._create_iam_users(session, node)
        node.extra[ROLE_KEY] = "writer"

    @staticmethod
    def _create_iam_users(session: AdminSession, node: Node) -> None:
        """IAM mode: users authenticated by PAM (the cluster's verifier), with the client account's privileges
        (no READ_ONLY ADMIN: a write on a replica fails with 1290, as on RDS). Replicated like any DDL."""
        service = node.extra.get(IAM_SERVICE_KEY)
        if not service:
            return
        for user in (u for u in node.extra.get(IAM_USERS_KEY, "").split(",") if u):
            if not (msql.is_safe_identifier(user) and msql.is_safe_identifier(service)):
                raise ClusterError(f"IAM user name {user!r} is not a plain identifier")
            session.rows(f"CREATE USER '{user}'@'%' IDENTIFIED VIA pam USING '{service}'")
            session.rows(f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%'")
            session.rows(f"REVOKE READ_ONLY ADMIN ON *.* FROM '{user}'@'%'")

    def add_replica(self, node: Node, source: Node, layout: Layout) -> None:
        """A replica from the pristine template that replays ``source``'s binlog. A node that ran before gets a
        new server_id (pitfall 2.5.2); the facts on the writer are updated to list it."""
        self._validate(node, layout)
        if layout.flavour is Flavour.AURORA:
            self._ensure_plugin()
        if not (self._shared(layout) / TEMPLATE_MARKER).exists():
            raise ClusterError(f"no template in {str(self._shared(layout))!r}: call init_writer first")
        if is_running(node, NodePaths.of(node)):
            self.crash(node)
        self._assign_server_id(node, layout)
        self._fresh_data_dir(node, layout)
        self._launch(node, layout, replica=True, semi_sync=layout.synchronous)
        with self._session(node) as session:
            self._change_master(session, source)
        writer = self._find_writer(source, layout)
        if writer is not None:
            with self._session(writer) as session:
                self._sync_facts(session, layout)
        self._wait_caught_up(node, writer or source)
        node.extra[ROLE_KEY] = "replica"

    def promote(self, node: Node, layout: Layout) -> None:
        """Apply everything the replica has received (its whole relay log: with semi-sync, acknowledged
        transactions may be there only), detach it, open it for writes and record it in the facts."""
        with self._session(node) as session:
            repl.apply_received(session, node, self.catch_up_timeout)
            session.rows("STOP SLAVE")
            session.rows("RESET SLAVE ALL")
            if layout.synchronous:
                session.rows("SET GLOBAL rpl_semi_sync_slave_enabled = 0")
            session.rows("SET GLOBAL read_only = 0")
            # The facts update is the write that proves the promotion.
            if layout.flavour is Flavour.AURORA:
                session.rows(*msql.aurora_promote(node))
            self._sync_facts(session, layout)
            if session.value("SELECT @@global.read_only") != 0:
                raise ClusterError(f"node {node.index} is still read-only after promotion")
            if layout.synchronous:
                session.rows("SET GLOBAL rpl_semi_sync_master_enabled = 1")
        for other in layout.nodes:
            other.extra[ROLE_KEY] = "writer" if other is node else "replica"

    def follow(self, node: Node, source: Node, layout: Layout) -> None:
        """Re-point a running replica (or a demoted writer) at ``source`` and wait until it has caught up.

        A node holding transactions ``source`` never logged (a replica that was ahead of the promoted one, a
        crashed writer's unreplicated commits), or whose replication from ``source`` fails with a GTID
        conflict, cannot follow it: it is re-cloned from the template instead (``add_replica``, new server id).
        """
        try:
            self._repoint(node, source, layout)
        except repl.ReplicationDiverged as exc:
            logger.warning("node %s cannot follow node %s (%s); re-cloning it", node.index, source.index, exc)
            self.add_replica(node, source, layout)

    def replication_position(self, node: Node) -> int:
        """The sequence number of the highest GTID ``node`` has received (relay log included) in its GTID
        domain, or has logged itself: the cluster promotes the replica where it is highest."""
        with self._session(node) as session:
            return repl.received_position(session, self.drain_timeout)

    def close(self) -> None:
        """Nothing to release: admin sessions are opened per operation and closed after it."""

    def _repoint(self, node: Node, source: Node, layout: Layout) -> None:
        with self._session(source) as session:
            source_state = session.value("SELECT @@gtid_binlog_state")
        with self._session(node) as session:
            session.rows("STOP SLAVE")
            if layout.synchronous:
                session.rows("SET GLOBAL rpl_semi_sync_master_enabled = 0")
                session.rows("SET GLOBAL rpl_semi_sync_slave_enabled = 1")
            session.rows("SET GLOBAL read_only = 1")
            binlog_pos, slave_pos = session.rows("SELECT @@gtid_binlog_pos, @@gtid_slave_pos")[0]
            position = slave_pos
            if binlog_pos and binlog_pos != slave_pos:
                # A demoted writer: its own transactions are only in its binlog position.
                session.rows("SET GLOBAL gtid_slave_pos = %s", (binlog_pos,))
                position = binlog_pos
            # MASTER_GTID_WAIT compares sequence numbers only, so a node that is *ahead* would look caught up:
            # compare with what the source has logged before re-pointing.
            repl.check_can_follow(node, position, source, source_state)
            self._change_master(session, source)
        self._wait_caught_up(node, source)
        node.extra[ROLE_KEY] = "replica"

    def start(self, node: Node, layout: Layout) -> None:
        """Start an existing data dir: a replica when it has replication configured (``master.info``) or the
        engine last made it one (``node.extra['mysql.role']``), else the writer."""
        replica = (node.data_dir / "master.info").exists() or node.extra.get(ROLE_KEY) == "replica"
        self._launch(node, layout, replica=replica, semi_sync=layout.synchronous)

    def stop(self, node: Node) -> None:
        paths = NodePaths.of(node)
        if not signal_and_wait(node, paths, signal.SIGTERM, self.stop_timeout):
            signal_and_wait(node, paths, signal.SIGKILL, self.stop_timeout)
            self._forget(node, paths)
            raise ClusterError(
                f"node {node.index} did not stop within {self.stop_timeout} s and was killed:\n"
                f"{log_tail(paths.error_log)}"
            )
        self._forget(node, paths)

    def crash(self, node: Node) -> None:
        paths = NodePaths.of(node)
        if not signal_and_wait(node, paths, signal.SIGKILL, self.stop_timeout):
            raise ClusterError(f"node {node.index} survived SIGKILL for {self.stop_timeout} s")
        self._forget(node, paths)

    def query(self, node: Node, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self._session(node) as session:
            return session.rows(sql, params)

    def set_facts(self, node: Node, layout: Layout, writer: str | None, hidden: frozenset[str]) -> None:
        """Aurora: report ``writer`` as the writer and drop ``hidden`` from the view. RDS / Multi-AZ: drop
        ``hidden`` from ``mysql.rds_topology`` (their writer comes from replication itself and cannot be
        overridden). The override is kept in the cluster's state and survives later promotions."""
        if writer is not None and layout.flavour is not Flavour.AURORA:
            raise ClusterError(
                f"flavour {layout.flavour.value!r} has no writer fact to override (writer={writer!r}); "
                "only 'aurora' supports it"
            )
        if hidden and layout.flavour is Flavour.PLAIN:
            raise ClusterError(
                f"flavour 'plain' has no topology to hide instances from (hidden={sorted(hidden)!r})"
            )
        state_file = self._shared(layout) / "state.json"
        state = load_state(state_file)
        state["hidden"] = sorted(hidden)
        state["writer_override"] = writer
        save_state(state_file, state)
        with self._session(node) as session:
            self._sync_facts(session, layout)

    # -- helpers -----------------------------------------------------------------------------------------------

    def _session(self, node: Node) -> AdminSession:
        return AdminSession(node, self.admin_user, self.connect_timeout, self.read_timeout)

    @staticmethod
    def _shared(layout: Layout) -> Path:
        return layout.work_dir / "mariadb"

    @staticmethod
    def _validate(node: Node, layout: Layout) -> None:
        if not msql.is_safe_identifier(node.instance_id):
            raise ClusterError(f"instance id {node.instance_id!r} must match [A-Za-z0-9_][A-Za-z0-9_.-]*")
        if layout.flavour in (Flavour.RDS, Flavour.MULTI_AZ) and "." in node.instance_id:
            raise ClusterError(
                f"instance id {node.instance_id!r} must not contain '.' for flavour {layout.flavour.value!r} "
                "(the host-id query takes the endpoint up to the first dot)"
            )

    def _ensure_template(self, layout: Layout) -> None:
        """The cluster's template data dir (``<work_dir>/mariadb/template``), from the cache or freshly built."""
        bootstrap = msql.bootstrap_sql(layout.database, self.admin_user, self.repl_user, self.repl_password)
        ensure_template(self._shared(layout), self._server(), bootstrap, self.default_port, self._cache)

    def _fresh_data_dir(self, node: Node, layout: Layout) -> None:
        paths = NodePaths.of(node)
        paths.directory.mkdir(parents=True, exist_ok=True)
        check_reachable(paths.directory)
        paths.tmpdir.mkdir(exist_ok=True)
        chown_mysql(paths.directory, paths.tmpdir)
        if node.data_dir.exists():
            shutil.rmtree(node.data_dir)
        copy_tree(self._shared(layout) / "template", node.data_dir)

    def _assign_server_id(self, node: Node, layout: Layout) -> None:
        """Keep ``node.server_id`` unless a server already ran with it in this cluster; then take one more than
        the highest id ever used or present in the layout (a replica skips events carrying its own id)."""
        state = load_state(self._shared(layout) / "state.json")
        used = {int(value) for value in state.get("used_server_ids", [])}
        if node.server_id in used:
            fresh = max(used | {other.server_id for other in layout.nodes}) + 1
            logger.info("node %s: server_id %s was used before, now %s", node.index, node.server_id, fresh)
            node.server_id = fresh

    def _record_server_id(self, node: Node, layout: Layout) -> None:
        state_file = self._shared(layout) / "state.json"
        state = load_state(state_file)
        used = set(state.get("used_server_ids", []))
        if node.server_id not in used:
            state["used_server_ids"] = sorted(used | {node.server_id})
            save_state(state_file, state)

    def _config(self, node: Node, layout: Layout, paths: NodePaths) -> str:
        extra: list[str] = []
        if layout.flavour is Flavour.AURORA:
            extra += [
                f"plugin-load-add = {build.PLUGIN_FILE}",
                f"loose-aurora-server-id = {node.instance_id}",
            ]
        if layout.flavour in (Flavour.RDS, Flavour.MULTI_AZ):
            extra.append(f"report-host = {msql.endpoint(node, layout)}")
        if layout.synchronous:
            extra.append(f"rpl-semi-sync-master-timeout = {self.semi_sync_timeout_ms}")
        if node.extra.get(IAM_SERVICE_KEY):  # IAM mode: PAM (cleartext from the client) over TLS
            extra += [
                "plugin-load-add = auth_pam",
                "pam-use-cleartext-plugin = ON",
                f"ssl-cert = {node.extra[IAM_CERT_KEY]}",
                f"ssl-key = {node.extra[IAM_KEY_KEY]}",
            ]
        return msql.option_file(
            datadir=node.data_dir,
            tmpdir=paths.tmpdir,
            socket=paths.socket,
            pid_file=paths.pid_file,
            error_log=paths.error_log,
            bind=node.server_host,
            port=node.port,
            server_id=node.server_id,
            extra=extra,
        )

    def _launch(self, node: Node, layout: Layout, *, replica: bool, semi_sync: bool) -> None:
        """Start mariadbd as our child and wait until it answers the admin account."""
        paths = NodePaths.of(node)
        if is_running(node, paths):
            raise ClusterError(f"node {node.index} is already running")
        if port_open(node.server_host, node.port):
            raise ClusterError(f"{node.server_host}:{node.port} is already in use by another process")
        server = self._server()
        paths.tmpdir.mkdir(exist_ok=True)
        chown_mysql(paths.tmpdir)
        paths.config.write_text(self._config(node, layout, paths))
        for stale in (paths.pid_file, paths.socket):
            stale.unlink(missing_ok=True)
        args = [str(server.binary), f"--defaults-file={paths.config}", f"--read-only={int(replica)}"]
        if semi_sync:
            args.append(f"--rpl-semi-sync-{'slave' if replica else 'master'}-enabled=1")
        paths.error_log.touch()
        chown_mysql(paths.error_log)
        # Started as the mysql OS user (not as root with user = mysql in my.cnf): mariadbd then has no user to
        # switch to, and the kernel keeps the parent-death signal that spawn sets (a uid change clears it), so
        # the server dies with a SIGKILLed harness. Its own session: a Ctrl-C reaches the harness only.
        proc = spawn(args, user=MYSQL_OS_USER if os.geteuid() == 0 else None, log_file=paths.error_log)
        node.process = proc
        node.log_file = paths.error_log
        self._record_server_id(node, layout)
        deadline = time.monotonic() + self.start_timeout
        last_error: ClusterError | None = None
        while True:
            code = proc.poll()
            if code is not None:
                self._forget(node, paths)
                raise ClusterError(
                    f"mariadbd of node {node.index} exited with {code} while starting:\n{log_tail(paths.error_log)}"
                )
            if port_open(node.server_host, node.port):
                try:
                    with self._session(node) as session:
                        session.rows("SELECT 1")
                    return
                except ClusterError as exc:
                    last_error = exc
            if time.monotonic() > deadline:
                self.crash(node)
                raise ClusterError(
                    f"node {node.index} did not accept connections within {self.start_timeout} s ({last_error}):\n"
                    f"{log_tail(paths.error_log)}"
                )
            time.sleep(0.01)

    @staticmethod
    def _forget(node: Node, paths: NodePaths) -> None:
        node.process = None
        paths.pid_file.unlink(missing_ok=True)
        if paths.socket.parent != paths.directory:
            paths.socket.unlink(missing_ok=True)

    def _change_master(self, session: AdminSession, source: Node) -> None:
        session.rows("STOP SLAVE")
        session.rows(
            "CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = %s, MASTER_PASSWORD = %s, "
            "MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1",
            (source.server_host, source.port, self.repl_user, self.repl_password),
        )
        session.rows("START SLAVE")

    def _find_writer(self, preferred: Node, layout: Layout) -> Node | None:
        """The running node with read_only = 0 (``preferred`` first): facts are only ever written there."""
        for candidate in [preferred, *(n for n in layout.nodes if n is not preferred)]:
            if not is_running(candidate, NodePaths.of(candidate)):
                continue
            try:
                with self._session(candidate) as session:
                    if session.value("SELECT @@global.read_only") == 0:
                        return candidate
            except ClusterError:
                continue
        logger.warning("no writable node found to record facts for the layout")
        return None

    def _sync_facts(self, session: AdminSession, layout: Layout) -> None:
        statements = msql.sync_statements(layout, *self._overrides(layout))
        if not statements:
            return
        session.rows("START TRANSACTION")
        try:
            for statement, params in statements:
                session.rows(statement, params)
            session.rows("COMMIT")
        except ClusterError:
            session.rows("ROLLBACK")
            raise

    def _overrides(self, layout: Layout) -> tuple[frozenset[str], str | None]:
        state = load_state(self._shared(layout) / "state.json")
        writer = state.get("writer_override")
        return frozenset(state.get("hidden", [])), writer if isinstance(writer, str) else None

    def _wait_caught_up(self, node: Node, source: Node) -> None:
        """Wait until ``node`` has applied everything ``source`` has binlogged so far; fail on a broken link
        (``repl.ReplicationDiverged`` when ``node`` cannot continue from ``source``)."""
        with self._session(source) as session:
            target = str(session.value("SELECT @@gtid_binlog_pos") or "")
        with self._session(node) as session:
            repl.wait_caught_up(session, node, source, target, self.catch_up_timeout)

"""Option files and SQL of the MariaDB engine: bootstrap accounts and the emulated Aurora / RDS facts.

The Aurora MySQL topology lives in ``information_schema.replica_host_status`` on Aurora. MariaDB refuses any
object in ``information_schema`` (error 1044), so the local cluster serves the same columns from a view in a
user schema, ``aurora_sim.replica_host_status``. That schema name is the one query string a test dialect must
change; every other Aurora, RDS and Multi-AZ query of catalogue section 5.4 runs unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ._engine import Flavour, Layout, Node

AURORA_SCHEMA = "aurora_sim"
TOPOLOGY_VIEW = f"{AURORA_SCHEMA}.replica_host_status"
RDS_TOPOLOGY = "mysql.rds_topology"

#: The Aurora MySQL topology query with the schema changed (the upstream string reads
#: ``information_schema.replica_host_status`` and ends with a space, kept here).
AURORA_TOPOLOGY_QUERY = (
    "SELECT SERVER_ID, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, CPU, "
    f"REPLICA_LAG_IN_MILLISECONDS, LAST_UPDATE_TIMESTAMP FROM {TOPOLOGY_VIEW} "
    "WHERE time_to_sec(timediff(now(), LAST_UPDATE_TIMESTAMP)) <= 300 OR SESSION_ID = 'MASTER_SESSION_ID' "
)
AURORA_WRITER_ID_QUERY = (
    f"SELECT SERVER_ID FROM {TOPOLOGY_VIEW} "
    "WHERE SESSION_ID = 'MASTER_SESSION_ID' AND SERVER_ID = @@aurora_server_id"
)
AURORA_HOST_ID_QUERY = "SELECT @@aurora_server_id, @@aurora_server_id"
AURORA_DETECTION_QUERY = "SHOW VARIABLES LIKE 'aurora_version'"
IS_READER_QUERY = "SELECT @@read_only"  # Aurora's @@innodb_read_only is startup-only on MariaDB
RDS_HOST_ID_QUERY = (
    "SELECT id, SUBSTRING_INDEX(endpoint, '.', 1) FROM mysql.rds_topology WHERE id = @@server_id"
)
MULTI_AZ_TOPOLOGY_QUERY = "SELECT id, endpoint, port FROM mysql.rds_topology"

_SAFE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")


def is_safe_identifier(value: str) -> bool:
    """Instance ids and database names go into option files and DDL: keep them to a plain character set."""
    return bool(_SAFE_ID.match(value))


def option_file(
    *,
    datadir: Path,
    tmpdir: Path,
    socket: Path,
    pid_file: Path,
    error_log: Path,
    bind: str | None,
    port: int,
    server_id: int | None,
    extra: Sequence[str] = (),
) -> str:
    """A complete ``[mariadbd]`` section: nothing is read from /etc/mysql (``--defaults-file``)."""
    lines = [
        "# written by aws-wrapper-testing; read only through --defaults-file",
        "[mariadbd]",
        "user = mysql",
        f"datadir = {datadir}",
        f"tmpdir = {tmpdir}",  # private: bootstraps sharing /tmp were seen to lose their temporary tables
        f"socket = {socket}",
        f"pid-file = {pid_file}",
        f"log-error = {error_log}",
        f"port = {port}",
        "skip-name-resolve = 1",
        "character-set-server = utf8mb4",
        "collation-server = utf8mb4_general_ci",
        "innodb-buffer-pool-size = 32M",
        "innodb-log-file-size = 16M",
        "innodb-flush-log-at-trx-commit = 2",
        "innodb-doublewrite = 0",
        "innodb-buffer-pool-dump-at-shutdown = 0",
        "innodb-buffer-pool-load-at-startup = 0",
        "max-connections = 500",
    ]
    if bind is None:  # bootstrap of the template: no network, no binary log
        lines += ["skip-networking = 1", "skip-log-bin"]
    else:
        lines += [
            f"bind-address = {bind}",
            f"server-id = {server_id}",
            "log-bin = mysql-bin",
            "relay-log = relay-bin",
            "log-slave-updates = 1",
            "binlog-format = ROW",
            "gtid-strict-mode = 1",
            "sync-binlog = 0",
            "log-bin-trust-function-creators = 1",
            "slave-net-timeout = 10",
            # semi-synchronous replication is enabled per role on the command line (layout.synchronous)
            "rpl-semi-sync-master-wait-point = AFTER_SYNC",
        ]
    lines += list(extra)
    return "\n".join(lines) + "\n"


def quote_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def bootstrap_sql(database: str, admin_user: str, repl_user: str, repl_password: str) -> str:
    """Accounts and the test database, baked into the template by ``mariadb-install-db --extra-file``.

    Bootstrap runs with grant tables disabled, so it starts with FLUSH PRIVILEGES. Every node is a copy of the
    template, so these objects exist everywhere without being replicated.
    """
    return "\n".join(
        [
            "FLUSH PRIVILEGES;",
            # Clients: root without password from any loopback address. READ_ONLY ADMIN is withheld so that a
            # write on a replica fails with error 1290, as it does for the master user of RDS / Aurora.
            "CREATE USER 'root'@'%';",
            "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;",
            "REVOKE READ_ONLY ADMIN ON *.* FROM 'root'@'%';",
            # The harness's own account (promote, facts on a read-only server, replication control).
            f"CREATE USER '{admin_user}'@'%';",
            f"GRANT ALL PRIVILEGES ON *.* TO '{admin_user}'@'%' WITH GRANT OPTION;",
            f"CREATE USER '{repl_user}'@'%' IDENTIFIED BY '{repl_password}';",
            f"GRANT REPLICATION SLAVE, REPLICATION SLAVE ADMIN, BINLOG MONITOR ON *.* TO '{repl_user}'@'%';",
            f"CREATE DATABASE IF NOT EXISTS {quote_name(database)};",
            "",
        ]
    )


AURORA_DDL: tuple[str, ...] = (
    f"CREATE DATABASE {AURORA_SCHEMA}",
    # The instances the topology lists (hidden ones are simply absent). cpu / lag may be edited by tests.
    f"""CREATE TABLE {AURORA_SCHEMA}.instances (
          server_id VARCHAR(64) NOT NULL PRIMARY KEY,
          cpu DOUBLE NOT NULL DEFAULT 1.5,
          replica_lag_in_milliseconds DOUBLE NOT NULL DEFAULT 0
        )""",
    # The control-plane row: who was promoted last, and an optional override of the reported writer.
    f"""CREATE TABLE {AURORA_SCHEMA}.cluster (
          id TINYINT NOT NULL PRIMARY KEY,
          writer_id VARCHAR(64) NOT NULL,
          writer_override VARCHAR(64) NULL
        )""",
    # A view may not read @@variables (error 1351), a function may. The writer knows it is the writer
    # (read_only = 0); a replica reads the replicated control row.
    f"""CREATE FUNCTION {AURORA_SCHEMA}.writer_id() RETURNS VARCHAR(64)
        NOT DETERMINISTIC READS SQL DATA SQL SECURITY DEFINER
        RETURN COALESCE(
          (SELECT writer_override FROM {AURORA_SCHEMA}.cluster WHERE id = 1),
          IF(@@global.read_only = 0, @@aurora_server_id,
             (SELECT writer_id FROM {AURORA_SCHEMA}.cluster WHERE id = 1)))""",
    f"""CREATE SQL SECURITY DEFINER VIEW {TOPOLOGY_VIEW} AS
        SELECT i.server_id AS SERVER_ID,
               IF(i.server_id = w.writer_id, 'MASTER_SESSION_ID', MD5(i.server_id)) AS SESSION_ID,
               i.cpu AS CPU,
               IF(i.server_id = w.writer_id, 0, i.replica_lag_in_milliseconds) AS REPLICA_LAG_IN_MILLISECONDS,
               NOW(6) AS LAST_UPDATE_TIMESTAMP
          FROM {AURORA_SCHEMA}.instances i
          CROSS JOIN (SELECT {AURORA_SCHEMA}.writer_id() AS writer_id) w""",
    # Like information_schema on Aurora, the topology is readable by every account.
    f"GRANT SELECT ON {TOPOLOGY_VIEW} TO PUBLIC",
)

RDS_DDL: tuple[str, ...] = (
    # id = @@server_id of the instance; endpoint = "<instance id>.<domain>". version / role / status are the
    # blue/green columns; NULL unless a blue/green test fills them in.
    f"""CREATE TABLE {RDS_TOPOLOGY} (
          id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
          endpoint VARCHAR(255) NOT NULL,
          port INT NOT NULL,
          version VARCHAR(16) NULL,
          role VARCHAR(64) NULL,
          status VARCHAR(64) NULL,
          UNIQUE KEY endpoint (endpoint)
        )""",
    f"GRANT SELECT ON {RDS_TOPOLOGY} TO PUBLIC",
)


def ddl(flavour: Flavour) -> tuple[str, ...]:
    if flavour is Flavour.AURORA:
        return AURORA_DDL
    if flavour in (Flavour.RDS, Flavour.MULTI_AZ):
        return RDS_DDL
    return ()


def endpoint(node: Node, layout: Layout) -> str:
    return f"{node.instance_id}.{layout.domain}"


def sync_statements(
    layout: Layout, hidden: frozenset[str], writer_override: str | None
) -> list[tuple[str, tuple[object, ...]]]:
    """Statements (run on the writer, in one transaction) that make the facts list ``layout.nodes``.

    Rows of instances that left the layout or are hidden are deleted; other rows are upserted so that values a
    test edited (cpu, lag, blue/green columns) survive.
    """
    visible = [node for node in layout.nodes if node.instance_id not in hidden]
    statements: list[tuple[str, tuple[object, ...]]] = []
    if layout.flavour is Flavour.AURORA:
        ids = tuple(node.instance_id for node in visible)
        if ids:
            marks = ", ".join(["%s"] * len(ids))
            statements.append(
                (f"DELETE FROM {AURORA_SCHEMA}.instances WHERE server_id NOT IN ({marks})", ids)
            )
            rows = ", ".join(["(%s)"] * len(ids))
            statements.append(
                (f"INSERT IGNORE INTO {AURORA_SCHEMA}.instances (server_id) VALUES {rows}", ids)
            )
        else:
            statements.append((f"DELETE FROM {AURORA_SCHEMA}.instances", ()))
        statements.append(
            (f"UPDATE {AURORA_SCHEMA}.cluster SET writer_override = %s WHERE id = 1", (writer_override,))
        )
    elif layout.flavour in (Flavour.RDS, Flavour.MULTI_AZ):
        pairs = [(node.server_id, endpoint(node, layout)) for node in visible]
        if pairs:
            marks = ", ".join(["(%s, %s)"] * len(pairs))
            flat = tuple(value for pair in pairs for value in pair)
            statements.append((f"DELETE FROM {RDS_TOPOLOGY} WHERE (id, endpoint) NOT IN ({marks})", flat))
        else:
            statements.append((f"DELETE FROM {RDS_TOPOLOGY}", ()))
        for node in visible:
            statements.append(
                (
                    f"INSERT INTO {RDS_TOPOLOGY} (id, endpoint, port) VALUES (%s, %s, %s) "
                    "ON DUPLICATE KEY UPDATE port = VALUES(port)",
                    (node.server_id, endpoint(node, layout), node.advertised_port or node.port),
                )
            )
    return statements


def aurora_seed(writer: Node) -> tuple[str, tuple[object, ...]]:
    return (f"INSERT INTO {AURORA_SCHEMA}.cluster (id, writer_id) VALUES (1, %s)", (writer.instance_id,))


def aurora_promote(writer: Node) -> tuple[str, tuple[object, ...]]:
    return (f"UPDATE {AURORA_SCHEMA}.cluster SET writer_id = %s WHERE id = 1", (writer.instance_id,))

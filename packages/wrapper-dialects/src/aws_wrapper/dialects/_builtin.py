"""The built-in dialects and their exact server queries (catalogue 5.3 / 5.4)."""

from __future__ import annotations

from ._dialect import Dialect, TopologyKind
from ._errors import MULTI_AZ_PG_ERRORS, MYSQL_DIALECT_ERRORS, PG_ERRORS
from ._probe import Check, Probe, ProbeStep

__all__ = [
    "MYSQL",
    "RDS_MYSQL",
    "AURORA_MYSQL",
    "GLOBAL_AURORA_MYSQL",
    "MULTI_AZ_MYSQL",
    "PG",
    "RDS_PG",
    "AURORA_PG",
    "GLOBAL_AURORA_PG",
    "MULTI_AZ_PG",
    "BUILTIN_DIALECTS",
]

# --- MySQL ---------------------------------------------------------------------------------------------------------

_MYSQL_VERSION = "SHOW VARIABLES LIKE 'version_comment'"
_REPORT_HOST = ProbeStep("SHOW VARIABLES LIKE 'report_host'", Check.NOT_EMPTY, 1)
_RDS_TOPOLOGY_QUERY = "SELECT id, endpoint, port FROM mysql.rds_topology"
_RDS_MYSQL_HOST_ID = (
    "SELECT id, SUBSTRING_INDEX(endpoint, '.', 1) FROM mysql.rds_topology WHERE id = @@server_id"
)
_RDS_MYSQL_BG_STATUS = "SELECT version, endpoint, port, role, status FROM mysql.rds_topology"
_RDS_MYSQL_BG_PROBE = (
    "SELECT 1 AS tmp FROM information_schema.tables "
    "WHERE table_schema = 'mysql' AND table_name = 'rds_topology'"
)

MYSQL = Dialect(
    code="mysql",
    engine="mysql",
    default_port=3306,
    errors=MYSQL_DIALECT_ERRORS,
    description="MySQL or MariaDB (no topology)",
    # upstream looks for "mysql" in version_comment only, which MariaDB builds do not carry
    probe=Probe.of(ProbeStep("SHOW VARIABLES LIKE 'version%'", Check.CONTAINS, 1, ("mysql", "mariadb"))),
    candidates=("aurora-mysql", "global-aurora-mysql", "multi-az-mysql", "rds-mysql"),
    host_id_query="SELECT @@hostname AS host, CONCAT(@@hostname, ':', @@port) AS host_id",
    host_alias_query="SELECT CONCAT(@@hostname, ':', @@port)",
    is_reader_query="SELECT @@read_only",
    version_query=_MYSQL_VERSION,
)

RDS_MYSQL = MYSQL.replace(
    code="rds-mysql",
    description="RDS for MySQL / MariaDB instance (no topology)",
    # upstream: version_comment 'Source distribution' and a report_host; RDS for MariaDB (and the local
    # cluster) carry another version_comment, so an RDS system table in the mysql schema also counts
    probe=Probe.of(ProbeStep(_MYSQL_VERSION, Check.EQUALS, 1, ("source distribution",)), _REPORT_HOST).or_(
        ProbeStep(
            "SELECT 1 AS tmp FROM information_schema.tables WHERE table_schema = 'mysql' "
            "AND table_name IN ('rds_topology', 'rds_heartbeat2', 'rds_configuration')"
        ),
        _REPORT_HOST,
    ),
    candidates=("aurora-mysql", "global-aurora-mysql", "multi-az-mysql"),
    host_id_query=_RDS_MYSQL_HOST_ID,
    host_alias_query="",
    blue_green_status_query=_RDS_MYSQL_BG_STATUS,
    blue_green_probe_query=_RDS_MYSQL_BG_PROBE,
)

_AURORA_MYSQL_TOPOLOGY = (
    "SELECT SERVER_ID, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, CPU, "
    "REPLICA_LAG_IN_MILLISECONDS, LAST_UPDATE_TIMESTAMP FROM information_schema.replica_host_status "
    "WHERE time_to_sec(timediff(now(), LAST_UPDATE_TIMESTAMP)) <= 300 OR SESSION_ID = 'MASTER_SESSION_ID' "
)

AURORA_MYSQL = RDS_MYSQL.replace(
    code="aurora-mysql",
    description="Aurora MySQL DB cluster",
    probe=Probe.of(ProbeStep("SHOW VARIABLES LIKE 'aurora_version'")),
    candidates=("global-aurora-mysql", "multi-az-mysql"),
    topology=TopologyKind.AURORA,
    topology_query=_AURORA_MYSQL_TOPOLOGY,
    host_id_query="SELECT @@aurora_server_id, @@aurora_server_id",
    is_reader_query="SELECT @@innodb_read_only",
    writer_id_query=(
        "SELECT SERVER_ID FROM information_schema.replica_host_status "
        "WHERE SESSION_ID = 'MASTER_SESSION_ID' AND SERVER_ID = @@aurora_server_id"
    ),
)

_INFO_TABLE = (
    "SELECT 1 AS tmp FROM information_schema.tables WHERE upper(table_schema) = 'INFORMATION_SCHEMA' "
    "AND upper(table_name) = '{}'"
)
GLOBAL_AURORA_MYSQL = AURORA_MYSQL.replace(
    code="global-aurora-mysql",
    description="Aurora MySQL global database",
    probe=Probe.of(
        ProbeStep(_INFO_TABLE.format("AURORA_GLOBAL_DB_STATUS")),
        ProbeStep(_INFO_TABLE.format("AURORA_GLOBAL_DB_INSTANCE_STATUS")),
        ProbeStep(
            "SELECT count(1) FROM information_schema.aurora_global_db_status", Check.GREATER, 0, ("1",)
        ),
    ),
    candidates=(),
    topology=TopologyKind.GLOBAL,
    topology_query=(
        "SELECT SERVER_ID, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, "
        "VISIBILITY_LAG_IN_MSEC, AWS_REGION FROM information_schema.aurora_global_db_instance_status "
    ),
    region_by_instance_query=(
        "SELECT AWS_REGION FROM information_schema.aurora_global_db_instance_status WHERE SERVER_ID = %s"
    ),
    region_count_query="SELECT count(1) FROM information_schema.aurora_global_db_status",
)

MULTI_AZ_MYSQL = MYSQL.replace(
    code="multi-az-mysql",
    description="RDS Multi-AZ DB cluster (MySQL)",
    probe=Probe.of(ProbeStep(_RDS_TOPOLOGY_QUERY), _REPORT_HOST),
    candidates=(),
    topology=TopologyKind.MULTI_AZ,
    topology_query=_RDS_TOPOLOGY_QUERY,
    host_id_query=_RDS_MYSQL_HOST_ID,
    host_alias_query="",
    writer_id_query="SHOW REPLICA STATUS",
    writer_id_column=39,  # Source_Server_Id (MySQL 8) / Master_Server_Id (MariaDB), both at index 39
)

# --- PostgreSQL ----------------------------------------------------------------------------------------------------

_PG_PROC = ProbeStep("SELECT 1 FROM pg_catalog.pg_proc LIMIT 1")
_RDS_EXTENSIONS = (
    "SELECT (setting LIKE '%rds_tools%') AS rds_tools, (setting LIKE '%aurora_stat_utils%') AS aurora_stat_utils "
    "FROM pg_catalog.pg_settings WHERE name OPERATOR(pg_catalog.=) 'rds.extensions'"
)
_AURORA_STAT_UTILS = ProbeStep(
    "SELECT (setting LIKE '%aurora_stat_utils%') AS aurora_stat_utils FROM pg_catalog.pg_settings "
    "WHERE name OPERATOR(pg_catalog.=) 'rds.extensions'",
    Check.TRUE,
)
_RDS_PG_HOST_ID = (
    "SELECT id, SUBSTRING(endpoint FROM 0 FOR POSITION('.' IN endpoint)) FROM rds_tools.show_topology() "
    "WHERE id OPERATOR(pg_catalog.=) rds_tools.dbi_resource_id()"
)

PG = Dialect(
    code="pg",
    engine="pg",
    default_port=5432,
    errors=PG_ERRORS,
    description="PostgreSQL (no topology)",
    probe=Probe.of(_PG_PROC),
    candidates=("aurora-pg", "global-aurora-pg", "multi-az-pg", "rds-pg"),
    host_id_query=(
        "SELECT pg_catalog.inet_server_addr() AS host, pg_catalog.CONCAT(pg_catalog.inet_server_addr(), ':', "
        "pg_catalog.inet_server_port()) AS host_id"
    ),
    host_alias_query=(
        "SELECT pg_catalog.CONCAT(pg_catalog.inet_server_addr(), ':', pg_catalog.inet_server_port())"
    ),
    is_reader_query="SELECT pg_catalog.pg_is_in_recovery()",
    version_query="SELECT 'version', pg_catalog.VERSION()",
)

RDS_PG = PG.replace(
    code="rds-pg",
    description="RDS for PostgreSQL instance (no topology)",
    probe=Probe.of(_PG_PROC, ProbeStep(_RDS_EXTENSIONS, Check.ROW_FLAGS, 0, ("true", "false"))),
    candidates=("aurora-pg", "global-aurora-pg", "multi-az-pg"),
    host_id_query=_RDS_PG_HOST_ID,
    host_alias_query="",
    blue_green_status_query=(
        "SELECT version, endpoint, port, role, status "
        "FROM rds_tools.show_topology('aws_advanced_python_wrapper-3.0.0')"
    ),
    blue_green_probe_query="SELECT 'rds_tools.show_topology'::regproc",
)

AURORA_PG = PG.replace(
    code="aurora-pg",
    description="Aurora PostgreSQL DB cluster",
    probe=Probe.of(
        _PG_PROC, _AURORA_STAT_UTILS, ProbeStep("SELECT 1 FROM pg_catalog.aurora_replica_status() LIMIT 1")
    ),
    candidates=("global-aurora-pg", "multi-az-pg"),
    topology=TopologyKind.AURORA,
    topology_query=(
        "SELECT SERVER_ID, CASE WHEN SESSION_ID OPERATOR(pg_catalog.=) 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, "
        "CPU, COALESCE(REPLICA_LAG_IN_MSEC, 0), LAST_UPDATE_TIMESTAMP FROM pg_catalog.aurora_replica_status() "
        "WHERE EXTRACT(EPOCH FROM(pg_catalog.NOW() OPERATOR(pg_catalog.-) LAST_UPDATE_TIMESTAMP)) "
        "OPERATOR(pg_catalog.<=) 300 OR SESSION_ID OPERATOR(pg_catalog.=) 'MASTER_SESSION_ID' "
        "OR LAST_UPDATE_TIMESTAMP IS NULL"
    ),
    host_id_query="SELECT pg_catalog.aurora_db_instance_identifier(), pg_catalog.aurora_db_instance_identifier()",
    host_alias_query="",
    writer_id_query=(
        "SELECT SERVER_ID FROM pg_catalog.aurora_replica_status() WHERE SESSION_ID OPERATOR(pg_catalog.=) "
        "'MASTER_SESSION_ID' AND SERVER_ID OPERATOR(pg_catalog.=) pg_catalog.aurora_db_instance_identifier()"
    ),
    limitless_router_query="SELECT router_endpoint, load FROM pg_catalog.aurora_limitless_router_endpoints()",
    blue_green_status_query=(
        "SELECT version, endpoint, port, role, status "
        "FROM pg_catalog.get_blue_green_fast_switchover_metadata('aws_advanced_python_wrapper-3.0.0')"
    ),
    blue_green_probe_query="SELECT 'pg_catalog.get_blue_green_fast_switchover_metadata'::regproc",
)

GLOBAL_AURORA_PG = AURORA_PG.replace(
    code="global-aurora-pg",
    description="Aurora PostgreSQL global database",
    probe=Probe.of(
        _AURORA_STAT_UTILS,
        ProbeStep("select 'pg_catalog.aurora_global_db_status'::regproc"),
        ProbeStep("select 'pg_catalog.aurora_global_db_instance_status'::regproc"),
        ProbeStep("SELECT count(1) FROM pg_catalog.aurora_global_db_status()", Check.GREATER, 0, ("1",)),
    ),
    candidates=(),
    topology=TopologyKind.GLOBAL,
    topology_query=(
        "SELECT SERVER_ID, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, "
        "VISIBILITY_LAG_IN_MSEC, AWS_REGION FROM pg_catalog.aurora_global_db_instance_status()"
    ),
    region_by_instance_query=(
        "SELECT AWS_REGION FROM pg_catalog.aurora_global_db_instance_status() WHERE SERVER_ID = %s"
    ),
    region_count_query="SELECT count(1) FROM pg_catalog.aurora_global_db_status()",
)

MULTI_AZ_PG = PG.replace(
    code="multi-az-pg",
    errors=MULTI_AZ_PG_ERRORS,
    description="RDS Multi-AZ DB cluster (PostgreSQL)",
    probe=Probe.of(
        ProbeStep(
            "SELECT multi_az_db_cluster_source_dbi_resource_id "
            "FROM rds_tools.multi_az_db_cluster_source_dbi_resource_id()",
            Check.NOT_EMPTY,
        )
    ),
    candidates=(),
    topology=TopologyKind.MULTI_AZ,
    topology_query="SELECT id, endpoint, port FROM rds_tools.show_topology('aws_python_driver-3.0.0')",
    host_id_query=_RDS_PG_HOST_ID,
    host_alias_query="",
    writer_id_query=(
        "SELECT multi_az_db_cluster_source_dbi_resource_id "
        "FROM rds_tools.multi_az_db_cluster_source_dbi_resource_id()"
    ),
    writer_id_column=0,
)

BUILTIN_DIALECTS: tuple[Dialect, ...] = (
    PG,
    RDS_PG,
    AURORA_PG,
    GLOBAL_AURORA_PG,
    MULTI_AZ_PG,
    MYSQL,
    RDS_MYSQL,
    AURORA_MYSQL,
    GLOBAL_AURORA_MYSQL,
    MULTI_AZ_MYSQL,
)

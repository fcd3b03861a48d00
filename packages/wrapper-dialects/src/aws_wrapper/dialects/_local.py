"""Dialect variants for the local cluster of aws-wrapper-testing (Aurora facts emulated on MariaDB)."""

from __future__ import annotations

from ._builtin import AURORA_MYSQL
from ._dialect import Dialect
from ._probe import Probe, ProbeStep

__all__ = ["aurora_mysql_on_mariadb"]

_AURORA_VIEW = "information_schema.replica_host_status"


def aurora_mysql_on_mariadb(
    schema: str = "aurora_sim", *, code: str = "aurora-mysql-local", auto_detect: bool = False
) -> Dialect:
    """Aurora MySQL as emulated on MariaDB: the topology view lives in ``<schema>.replica_host_status``
    (MariaDB refuses objects in ``information_schema``) and the reader test is ``@@read_only``
    (``@@innodb_read_only`` is a startup option there). Every other query is Aurora MySQL's.

    Register it with :func:`aws_wrapper.dialects.register_dialect` and select it with
    ``wrapper_dialect=<code>``; with ``auto_detect=True`` it is also probed first when a connection starts as
    ``mysql``, ``rds-mysql`` or ``aurora-mysql``.
    """
    if not schema.replace("_", "").isalnum():
        raise ValueError(f"invalid schema name {schema!r}")
    view = f"{schema}.replica_host_status"
    return AURORA_MYSQL.replace(
        code=code,
        description=f"Aurora MySQL emulated on MariaDB (topology in {view})",
        topology_query=AURORA_MYSQL.topology_query.replace(_AURORA_VIEW, view),
        writer_id_query=AURORA_MYSQL.writer_id_query.replace(_AURORA_VIEW, view),
        is_reader_query="SELECT @@read_only",
        probe=Probe.of(
            ProbeStep("SHOW VARIABLES LIKE 'aurora_version'"),
            ProbeStep(
                "SELECT 1 AS tmp FROM information_schema.tables "
                f"WHERE table_schema = '{schema}' AND table_name = 'replica_host_status'"
            ),
        ),
        candidates=(),
        refines=("mysql", "rds-mysql", "aurora-mysql") if auto_detect else (),
        priority=10 if auto_detect else 0,
    )

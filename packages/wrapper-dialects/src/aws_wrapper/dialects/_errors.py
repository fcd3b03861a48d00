"""Error classification per dialect, built on core's driver-level classifiers (code lists as data).

Single-AZ PostgreSQL and every MySQL dialect use the driver-level tables unchanged. A Multi-AZ DB cluster
(PostgreSQL) refuses logins with SQLSTATE ``28000`` for a moment while an instance reboots during a failover:
there ``28000`` is a transient network condition, and only ``28P01`` (wrong password) is a login failure.
"""

from __future__ import annotations

from aws_wrapper.core.driver._classify import (
    MYSQL_ERRORS,
    PG_NETWORK_SQLSTATES,
    PSYCOPG_ERRORS,
    MySqlErrorClassifier,
    PsycopgErrorClassifier,
)

__all__ = [
    "PG_ERRORS",
    "MULTI_AZ_PG_ERRORS",
    "MYSQL_DIALECT_ERRORS",
    "PsycopgErrorClassifier",
    "MySqlErrorClassifier",
]

PG_ERRORS = PSYCOPG_ERRORS
MULTI_AZ_PG_ERRORS = PsycopgErrorClassifier(
    network_sqlstates=(*PG_NETWORK_SQLSTATES, "28000"),
    login_sqlstates=("28P01",),
)
MYSQL_DIALECT_ERRORS = MYSQL_ERRORS

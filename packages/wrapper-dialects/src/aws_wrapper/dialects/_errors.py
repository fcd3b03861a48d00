"""Error classification per dialect, built on core's driver-level classifiers (code lists as data).

Single-AZ PostgreSQL and every MySQL dialect use the driver-level tables unchanged. A Multi-AZ DB cluster
(PostgreSQL) refuses logins with SQLSTATE ``28000`` for a moment while an instance reboots during a failover:
there ``28000`` is a transient network condition, and only ``28P01`` (wrong password) is a login failure.

:func:`is_query_refused` tells the errors of a server that answered a wrapper query with "no": the table, view,
function or variable does not exist, or the user may not use it. Retrying does not change such an answer, so the
topology monitor reports it at once instead of waiting for a writer that cannot be verified.
"""

from __future__ import annotations

from aws_wrapper.core.driver._classify import (
    MYSQL_ERRORS,
    PG_NETWORK_SQLSTATES,
    PSYCOPG_ERRORS,
    MySqlErrorClassifier,
    PsycopgErrorClassifier,
    error_chain,
)

__all__ = [
    "PG_ERRORS",
    "MULTI_AZ_PG_ERRORS",
    "MYSQL_DIALECT_ERRORS",
    "PsycopgErrorClassifier",
    "MySqlErrorClassifier",
    "REFUSED_SQLSTATES",
    "REFUSED_MYSQL_ERRNOS",
    "is_query_refused",
    "refusal_text",
]

PG_ERRORS = PSYCOPG_ERRORS
MULTI_AZ_PG_ERRORS = PsycopgErrorClassifier(
    network_sqlstates=(*PG_NETWORK_SQLSTATES, "28000"),
    login_sqlstates=("28P01",),
)
MYSQL_DIALECT_ERRORS = MYSQL_ERRORS

#: SQLSTATE prefixes of a query the server refuses for good: class 42 (syntax error or access rule violation:
#: undefined table / function / column, insufficient privilege; MySQL's 42000, 42S02, 42S22 too), 3F (invalid
#: schema name) and 0A (feature not supported).
REFUSED_SQLSTATES = ("42", "3F", "0A")
#: MySQL / MariaDB errors of the same kind whose SQLSTATE is the generic HY000.
REFUSED_MYSQL_ERRNOS = frozenset(
    {
        1044,  # ER_DBACCESS_DENIED_ERROR
        1049,  # ER_BAD_DB_ERROR
        1054,  # ER_BAD_FIELD_ERROR
        1064,  # ER_PARSE_ERROR
        1109,  # ER_UNKNOWN_TABLE (e.g. information_schema.replica_host_status outside Aurora)
        1142,  # ER_TABLEACCESS_DENIED_ERROR
        1143,  # ER_COLUMNACCESS_DENIED_ERROR
        1146,  # ER_NO_SUCH_TABLE
        1193,  # ER_UNKNOWN_SYSTEM_VARIABLE (e.g. @@aurora_server_id outside Aurora)
        1227,  # ER_SPECIFIC_ACCESS_DENIED_ERROR
        1305,  # ER_SP_DOES_NOT_EXIST
        1356,  # ER_VIEW_INVALID
        1370,  # ER_PROCACCESS_DENIED_ERROR
        1449,  # ER_NO_SUCH_USER (the definer of a view)
    }
)


def is_query_refused(error: BaseException) -> bool:
    """Whether the server refused a query for good (see the module documentation). Reads the ``sqlstate``
    (psycopg, mysql-connector) and ``errno`` (mysql-connector) of every error in the chain; socket errors,
    whose ``errno`` is an OS error number, never count."""
    for current in error_chain(error):
        if isinstance(current, OSError):
            continue
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str) and state.upper().startswith(REFUSED_SQLSTATES):
            return True
        number = getattr(current, "errno", None)
        if isinstance(number, int) and not isinstance(number, bool) and number in REFUSED_MYSQL_ERRNOS:
            return True
    return False


def refusal_text(error: BaseException) -> str:
    """The server's message of a refused query on one line (psycopg adds the statement and a hint on the lines
    after it), with the SQLSTATE when the message does not show it."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    state = getattr(error, "sqlstate", None)
    if isinstance(state, str) and state and state not in text:
        text = f"{text} (SQLSTATE {state})"
    return text

"""Classification tables per dialect, with real driver exception classes, including the cases upstream gets wrong
(catalogue 6.2 and 11): SQLSTATE classes match by prefix, wrapped / chained authentication errors are found."""

from __future__ import annotations

import mysql.connector.errors as my
import psycopg
import psycopg.errors as pg
import pytest

from aws_wrapper.core.errors import AwsWrapperError, FailoverSuccessError, QueryTimeoutError
from aws_wrapper.dialects import BUILTIN_DIALECTS, MULTI_AZ_PG, PG, Dialect

PG_DIALECTS = [d for d in BUILTIN_DIALECTS if d.engine == "pg"]
SINGLE_AZ_PG = [d for d in PG_DIALECTS if d is not MULTI_AZ_PG]
MYSQL_DIALECTS = [d for d in BUILTIN_DIALECTS if d.engine == "mysql"]


def _wrapped(error: BaseException) -> AwsWrapperError:
    return AwsWrapperError("[Failover] detected an exception", driver_error=error)


def _chained(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except BaseException as result:
        return result


AUTH_FAILED = psycopg.OperationalError(
    'connection failed: connection to server at "10.0.0.1", port 5432 failed: FATAL:  password authentication '
    'failed for user "app"'
)

# (error, network, login, read_only) — the same for every single-AZ PostgreSQL dialect
PG_TABLE = [
    pytest.param(pg.lookup("08006")("connection failure"), True, False, False, id="08006-upstream-missed"),
    pytest.param(pg.lookup("08001")("cannot connect"), True, False, False, id="08001-upstream-missed"),
    pytest.param(pg.lookup("08003")("no connection"), True, False, False, id="08003-upstream-missed"),
    pytest.param(pg.AdminShutdown("terminating connection due to administrator command"), True, False, False,
                 id="57P01"),
    pytest.param(pg.lookup("57P02")("crash shutdown"), True, False, False, id="57P02"),
    pytest.param(pg.lookup("57P03")("the database system is starting up"), True, False, False, id="57P03"),
    pytest.param(psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly"),
                 True, False, False, id="consuming-input"),
    pytest.param(psycopg.OperationalError("connection failed: Connection refused"), True, False, False,
                 id="refused"),
    pytest.param(AUTH_FAILED, False, True, False, id="password-message"),
    pytest.param(pg.InvalidPassword("password authentication failed"), False, True, False, id="28P01"),
    pytest.param(pg.InvalidAuthorizationSpecification("no pg_hba.conf entry"), False, True, False, id="28000"),
    pytest.param(_wrapped(AUTH_FAILED), False, True, False, id="wrapped-auth-upstream-missed"),
    pytest.param(_chained(psycopg.OperationalError("consuming input failed"), pg.InvalidPassword("bad")),
                 False, True, False, id="auth-behind-network-is-login"),
    pytest.param(_wrapped(pg.AdminShutdown("bye")), True, False, False, id="wrapped-network"),
    pytest.param(pg.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction"), False, False,
                 True, id="25006"),
    pytest.param(_wrapped(pg.ReadOnlySqlTransaction("read-only")), False, False, True, id="wrapped-25006"),
    pytest.param(pg.SyntaxError("syntax error at or near"), False, False, False, id="42601-user-error"),
    pytest.param(pg.UniqueViolation("duplicate key"), False, False, False, id="23505-user-error"),
    pytest.param(pg.lookup("58030")("could not write"), False, False, False, id="58030-not-network"),
    pytest.param(QueryTimeoutError("timed out"), True, False, False, id="query-timeout"),
    pytest.param(FailoverSuccessError("switched"), False, False, False, id="failover-outcome"),
    pytest.param(ValueError("not a db error"), False, False, False, id="foreign"),
]  # fmt: skip


@pytest.mark.parametrize("dialect", SINGLE_AZ_PG, ids=lambda d: d.code)
@pytest.mark.parametrize(("error", "network", "login", "read_only"), PG_TABLE)
def test_pg_classification(
    dialect: Dialect, error: BaseException, network: bool, login: bool, read_only: bool
) -> None:
    errors = dialect.errors
    assert (
        errors.is_network_error(error),
        errors.is_login_error(error),
        errors.is_read_only_error(error),
    ) == (
        network,
        login,
        read_only,
    )


MULTI_AZ_TABLE = [
    # a Multi-AZ DB cluster answers 28000 while an instance reboots: transient, not a credentials problem
    pytest.param(pg.InvalidAuthorizationSpecification("not yet accepting"), True, False, id="28000-network"),
    pytest.param(pg.InvalidPassword("password authentication failed"), False, True, id="28P01-login"),
    pytest.param(pg.AdminShutdown("bye"), True, False, id="57P01"),
    pytest.param(pg.lookup("08006")("connection failure"), True, False, id="08006"),
    pytest.param(_wrapped(pg.InvalidAuthorizationSpecification("x")), True, False, id="wrapped-28000"),
]


@pytest.mark.parametrize(("error", "network", "login"), MULTI_AZ_TABLE)
def test_multi_az_pg_classification(error: BaseException, network: bool, login: bool) -> None:
    errors = MULTI_AZ_PG.errors
    assert (errors.is_network_error(error), errors.is_login_error(error)) == (network, login)
    assert PG.errors.is_login_error(pg.InvalidAuthorizationSpecification("x"))  # differs from single-AZ


READ_ONLY_MSG = (
    "The MariaDB server is running with the --read-only option so it cannot execute this statement"
)
MYSQL_TABLE = [
    pytest.param(my.OperationalError(msg="Lost connection to MySQL server during query", errno=2013), True, False,
                 False, id="2013"),
    pytest.param(my.OperationalError(msg="MySQL server has gone away", errno=2006), True, False, False, id="2006"),
    pytest.param(my.InterfaceError(msg="Can't connect to MySQL server on '10.0.0.1:3306' (111)", errno=2003), True,
                 False, False, id="2003"),
    pytest.param(my.DatabaseError(msg="Server shutdown in progress", errno=1053, sqlstate="08S01"), True, False,
                 False, id="1053-08S01"),
    pytest.param(my.OperationalError(msg="MySQL Connection not available"), True, False, False,
                 id="not-available"),
    pytest.param(my.DatabaseError(msg="Lock wait timeout exceeded", errno=1205, sqlstate="HY000"), False, False,
                 False, id="HY000-upstream-called-network"),
    pytest.param(my.ProgrammingError(msg="You have an error in your SQL syntax", errno=1064, sqlstate="42000"),
                 False, False, False, id="syntax"),
    pytest.param(my.ProgrammingError(msg="Access denied for user 'app'", errno=1045, sqlstate="28000"), False,
                 True, False, id="1045-login"),
    pytest.param(_wrapped(my.ProgrammingError(msg="Access denied", errno=1045, sqlstate="28000")), False, True,
                 False, id="wrapped-login-upstream-missed"),
    pytest.param(_chained(my.OperationalError(msg="Lost connection", errno=2013),
                          my.ProgrammingError(msg="Access denied", errno=1045, sqlstate="28000")),
                 False, True, False, id="login-behind-network"),
    pytest.param(my.DatabaseError(msg=READ_ONLY_MSG, errno=1290, sqlstate="HY000"), False, False, True,
                 id="1290-read-only"),
    pytest.param(my.DatabaseError(msg="The MySQL server is running with the --secure-file-priv option",
                                  errno=1290, sqlstate="HY000"), False, False, False, id="1290-other-option"),
    pytest.param(my.DatabaseError(msg="Running in read-only mode", errno=1836, sqlstate="HY000"), False, False,
                 True, id="1836"),
    pytest.param(_wrapped(my.DatabaseError(msg=READ_ONLY_MSG, errno=1290, sqlstate="HY000")), False, False, True,
                 id="wrapped-read-only"),
]  # fmt: skip


@pytest.mark.parametrize("dialect", MYSQL_DIALECTS, ids=lambda d: d.code)
@pytest.mark.parametrize(("error", "network", "login", "read_only"), MYSQL_TABLE)
def test_mysql_classification(
    dialect: Dialect, error: BaseException, network: bool, login: bool, read_only: bool
) -> None:
    errors = dialect.errors
    assert (
        errors.is_network_error(error),
        errors.is_login_error(error),
        errors.is_read_only_error(error),
    ) == (
        network,
        login,
        read_only,
    )


def test_drivers_do_not_cross_classify() -> None:
    assert not PG.errors.is_network_error(my.OperationalError(msg="Lost connection", errno=2013))
    assert not MYSQL_DIALECTS[0].errors.is_network_error(pg.AdminShutdown("bye"))

"""Driver dialects: psycopg 3, mysql-connector-python (pure Python and C extension) and PyMySQL."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from ..errors import ConfigurationError
from ._base import ISOLATION_LEVELS, DriverDialect

__all__ = ["DriverDialect", "ISOLATION_LEVELS", "driver_dialect_for", "register_driver_dialect"]

_custom: list[DriverDialect] = []


def register_driver_dialect(dialect: DriverDialect) -> None:
    """Add a driver dialect (checked before the built-in ones)."""
    _custom.insert(0, dialect)


def _builtin(every: bool = False) -> list[DriverDialect]:
    """The built-in dialects; without ``every`` only those whose driver is imported (a connect function of a driver
    that is not imported cannot be passed in, and importing the other dialect costs a psycopg user ~2 ms of cold
    start)."""
    found: list[DriverDialect] = []
    if every or "psycopg" in sys.modules:
        from ._psycopg import PsycopgDialect

        found.append(PsycopgDialect())
    if every or "mysql" in sys.modules:
        from ._mysql import MySqlConnectorDialect

        found.append(MySqlConnectorDialect())
    if every or "pymysql" in sys.modules:
        from ._pymysql import PyMySqlDialect

        found.append(PyMySqlDialect())
    return found


def driver_dialect_for(connect_func: Callable[..., Any], forced: str | None = None) -> DriverDialect:
    """The dialect for ``connect_func`` (or the one named by ``wrapper_driver_dialect``)."""
    if not forced:
        for dialect in _custom:
            if dialect.matches(connect_func):
                return dialect
    candidates = [*_custom, *_builtin(every=bool(forced))]
    if forced:
        for dialect in candidates:
            if dialect.code == forced.strip().lower():
                return _checked(dialect, forced, connect_func, candidates)
        codes = ", ".join(d.code for d in candidates)
        raise ConfigurationError(
            f"invalid value {forced!r} for setting 'wrapper_driver_dialect': expected one of {codes}"
        )
    for dialect in candidates:
        if dialect.matches(connect_func):
            return dialect
    raise ConfigurationError(
        f"unsupported target driver {_describe(connect_func)}: expected psycopg.Connection.connect, "
        "mysql.connector.connect or pymysql.connect (or set wrapper_driver_dialect)"
    )


def _describe(connect_func: Callable[..., Any]) -> str:
    name = getattr(connect_func, "__qualname__", None) or repr(connect_func)
    module = getattr(connect_func, "__module__", None) or "?"
    return f"{module}.{name}"


def _checked(
    forced: DriverDialect, value: str, connect_func: Callable[..., Any], candidates: list[DriverDialect]
) -> DriverDialect:
    """``forced`` unless ``connect_func`` is recognisably another driver's connect function (a function no dialect
    recognises, e.g. an application's own factory, is trusted to be the forced driver's)."""
    if forced.matches(connect_func):
        return forced
    for other in candidates:
        if other is not forced and other.code != forced.code and other.matches(connect_func):
            raise ConfigurationError(
                f"invalid value {value!r} for setting 'wrapper_driver_dialect': the target "
                f"{_describe(connect_func)} belongs to driver dialect {other.code!r}, not {forced.code!r}; "
                f"remove wrapper_driver_dialect or pass a {forced.code} connect function"
            )
    return forced

"""Choosing the dialect of a connection: a guess before connecting, probing after the first connect.

1. ``wrapper_dialect`` names a dialect: it is used as is, no probing (``custom`` = the custom dialect).
2. A custom dialect is set (:func:`set_custom_dialect`): it is used, no probing.
3. A dialect was detected for this host and port within the last 30 minutes: it is used, no probing.
4. Otherwise a guess from the host name (catalogue 5.2). After the first physical connect the guess is checked
   with its own probe (falling back to ``pg`` / ``mysql`` when it does not match), then its candidate dialects
   are probed in order and the first that matches replaces it (catalogue 5.3). The result is cached.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aws_wrapper.core.driver import DriverDialect
from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.plugin import RawConnection
from aws_wrapper.core.services import DatabaseDialect
from aws_wrapper.core.settings import Setting, core_settings
from aws_wrapper.core.storage import STORAGE, ExpiringCache

from ._builtin import (
    AURORA_MYSQL,
    AURORA_PG,
    GLOBAL_AURORA_MYSQL,
    GLOBAL_AURORA_PG,
    MYSQL,
    PG,
    RDS_MYSQL,
    RDS_PG,
)
from ._dialect import Dialect
from ._probe import run_probe
from ._registry import CUSTOM, DIALECTS, DialectRegistry
from ._settings import validate_settings
from ._urls import RdsUrlType, parse_endpoint

WRAPPER_DIALECT: Setting[str | None] = core_settings()["wrapper_dialect"]
AUX_QUERY_TIMEOUT: Setting[float] = core_settings()["auxiliary_query_timeout_sec"]

__all__ = ["DialectManager", "guess_dialect", "DETECTION_TTL_S"]

logger = logging.getLogger("aws_wrapper.dialects.database_dialect")

DETECTION_TTL_S = 1800.0
_CACHE = "aws_wrapper.dialects.detected"


def _detected() -> ExpiringCache[str, str]:
    return STORAGE.cache(_CACHE, DETECTION_TTL_S)


def guess_dialect(host: str, engine: str) -> tuple[DatabaseDialect, bool]:
    """The dialect for a host name before connecting, and whether it is final (no probing)."""
    kind = parse_endpoint(host).type
    if engine == "mysql":
        if kind is RdsUrlType.RDS_GLOBAL_WRITER_CLUSTER:
            return GLOBAL_AURORA_MYSQL, True
        if kind.is_rds_cluster:
            return AURORA_MYSQL, False
        return (RDS_MYSQL if kind.is_rds else MYSQL), False
    if kind is RdsUrlType.RDS_AURORA_LIMITLESS_DB_SHARD_GROUP:
        return AURORA_PG, True
    if kind is RdsUrlType.RDS_GLOBAL_WRITER_CLUSTER:
        return GLOBAL_AURORA_PG, True
    if kind.is_rds_cluster:
        return AURORA_PG, False
    return (RDS_PG if kind.is_rds else PG), False


def _key(engine: str, host: str, port: object) -> str:
    try:
        port = int(str(port))
    except ValueError:
        pass
    return f"{engine}|{host.strip().lower()}:{port}"


class DialectManager:
    """Core's ``DialectManager`` (entry point ``aws_wrapper.dialect_manager``), instantiated by core with no
    arguments."""

    def __init__(self, registry: DialectRegistry | None = None) -> None:
        self.registry = registry or DIALECTS

    def initial(self, host: HostInfo, driver: DriverDialect, props: Mapping[str, Any]) -> DatabaseDialect:
        validate_settings(props)  # before any server is contacted, whatever the host and the dialect
        forced = WRAPPER_DIALECT.get(props)
        if forced:
            return self._forced(forced, driver)
        custom = self.registry.custom
        if custom is not None:
            if custom.engine == driver.engine:
                return custom
            logger.warning(
                "custom dialect %r is for %s, not %s: ignored", custom.code, custom.engine, driver.engine
            )
        key = _key(driver.engine, host.host, host.port)
        code = _detected().get(key)
        if code is not None:
            cached = self.registry.get(code)
            if cached is not None and cached.engine == driver.engine:
                return cached
        dialect, final = guess_dialect(host.host, driver.engine)
        if final:
            _detected().put(key, dialect.code)
        return dialect

    def _forced(self, code: str, driver: DriverDialect) -> DatabaseDialect:
        dialect = self.registry.get(code)
        if dialect is None:
            known = ", ".join([*self.registry.codes(), CUSTOM])
            if code.strip().lower() == CUSTOM:
                raise ConfigurationError(
                    "invalid value 'custom' for setting 'wrapper_dialect': no custom dialect is set "
                    "(call aws_wrapper.dialects.set_custom_dialect first)"
                )
            raise ConfigurationError(
                f"invalid value {code!r} for setting 'wrapper_dialect': expected one of {known}"
            )
        if dialect.engine != driver.engine:
            raise ConfigurationError(
                f"invalid value {code!r} for setting 'wrapper_dialect': it is a {dialect.engine} dialect and the "
                f"driver {driver.code!r} connects to {driver.engine}"
            )
        return dialect

    def refine(
        self, conn: RawConnection, current: DatabaseDialect, driver: DriverDialect, props: Mapping[str, Any]
    ) -> DatabaseDialect:
        if WRAPPER_DIALECT.get(props) or current is self.registry.custom:
            return current
        key = _key(driver.engine, str(props.get("host") or ""), props.get("port") or driver.default_port)
        cache = _detected()
        if cache.get(key) == current.code:
            return current
        try:
            if driver.is_in_transaction(conn):
                return current  # never probe inside the application's transaction
            timeout = AUX_QUERY_TIMEOUT.get(props)
        except Exception:
            return current
        result = start = current
        answers: dict[str, list[tuple[Any, ...]] | None] = {}  # one answer per statement for this detection
        base = PG if driver.engine == "pg" else MYSQL
        # a guess from the host name is checked too: a name is not proof (upstream trusted it)
        if (
            isinstance(current, Dialect)
            and current is not base
            and current.probe.alternatives
            and not run_probe(current.probe, driver, conn, timeout, current.code, answers)
        ):
            if driver.is_closed(conn):
                return current
            result = start = base
        for candidate in self.registry.candidates(start):
            if run_probe(candidate.probe, driver, conn, timeout, candidate.code, answers):
                result = candidate
                break
            if driver.is_closed(conn):
                return current  # the connection broke (e.g. a probe timed out): decide on a later connect
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("dialect of %s: %s (started from %s)", key, result.code, current.code)
        cache.put(key, result.code)
        return result

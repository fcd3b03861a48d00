"""Detection probes as data: a probe is a list of alternatives, each a list of steps that must all hold.

A step runs one query and checks its rows. Probes run through ``DriverDialect.query`` under the auxiliary query
timeout; a failing query means "no match" (logged at debug level), never an error for the application.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from typing import Any

from aws_wrapper.core.driver import DriverDialect
from aws_wrapper.core.host_list import truthy
from aws_wrapper.core.plugin import RawConnection
from aws_wrapper.core.records import record

__all__ = ["Check", "ProbeStep", "Probe", "run_probe", "truthy"]

logger = logging.getLogger("aws_wrapper.dialects.database_dialect")


class Check(enum.Enum):
    ANY_ROW = "any_row"  # the query returns at least one row
    CONTAINS = "contains"  # some row's `column`, lowercased, contains one of `values`
    EQUALS = "equals"  # some row's `column`, lowercased, equals one of `values`
    NOT_EMPTY = "not_empty"  # some row's `column` is a non-empty value
    TRUE = "true"  # some row's `column` is true (true, 1, 't', 'on', ...)
    ROW_FLAGS = "row_flags"  # some row's columns 0.. are true/false exactly as `values` ("true"/"false") say
    GREATER = "greater"  # the first row's `column` is a number greater than int(values[0])


@record(frozen=True)
class ProbeStep:
    sql: str
    check: Check = Check.ANY_ROW
    column: int = 0
    values: tuple[str, ...] = ()

    def matches(self, rows: Sequence[Sequence[Any]]) -> bool:
        check, column = self.check, self.column
        if check is Check.ANY_ROW:
            return bool(rows)
        if check is Check.GREATER:
            if not rows or len(rows[0]) <= column:
                return False
            try:
                return int(rows[0][column]) > int(self.values[0])
            except (TypeError, ValueError):
                return False
        for row in rows:
            if check is Check.ROW_FLAGS:
                if len(row) >= len(self.values) and all(
                    truthy(row[i]) is (want == "true") for i, want in enumerate(self.values)
                ):
                    return True
                continue
            if len(row) <= column:
                continue
            value = row[column]
            if check is Check.TRUE:
                if truthy(value):
                    return True
            elif check is Check.NOT_EMPTY:
                if value is not None and _text(value).strip() != "":
                    return True
            else:
                text = _text(value).lower()
                if check is Check.CONTAINS and any(v in text for v in self.values):
                    return True
                if check is Check.EQUALS and text in self.values:
                    return True
        return False


@record(frozen=True)
class Probe:
    """Matches when every step of at least one alternative matches. An empty probe never matches."""

    alternatives: tuple[tuple[ProbeStep, ...], ...] = ()

    @classmethod
    def of(cls, *steps: ProbeStep) -> Probe:
        return cls((tuple(steps),))

    def or_(self, *steps: ProbeStep) -> Probe:
        return Probe((*self.alternatives, tuple(steps)))


def _text(value: object) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def run_probe(
    probe: Probe,
    driver: DriverDialect,
    conn: RawConnection,
    timeout: float,
    code: str = "?",
    cache: dict[str, list[tuple[Any, ...]] | None] | None = None,
) -> bool:
    """Whether ``probe`` matches on ``conn``. Never raises for a failed query; never leaves a transaction open
    that the probe opened (a probe is never run inside the application's transaction: see the caller).
    ``cache`` holds the answers of statements already run on ``conn`` (shared by the probes of one detection, so
    that a statement several dialects ask is sent once)."""
    if cache is None:
        cache = {}
    for steps in probe.alternatives:
        if steps and all(_step(step, driver, conn, timeout, cache, code) for step in steps):
            return True
    return False


def _step(
    step: ProbeStep,
    driver: DriverDialect,
    conn: RawConnection,
    timeout: float,
    cache: dict[str, list[tuple[Any, ...]] | None],
    code: str,
) -> bool:
    if step.sql not in cache:
        try:
            cache[step.sql] = driver.query(conn, step.sql, timeout=timeout)
        except Exception as exc:
            cache[step.sql] = None
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("dialect probe %r: %r failed: %s", code, step.sql, exc)
            _clean_up(driver, conn)
    rows = cache[step.sql]
    return rows is not None and step.matches(rows)


def _clean_up(driver: DriverDialect, conn: RawConnection) -> None:
    """After a failed probe query: roll back a transaction it may have left (e.g. a PG transaction in error)."""
    try:
        if not driver.is_closed(conn) and driver.is_in_transaction(conn):
            driver.rollback(conn)
    except Exception:
        logger.debug("rollback after a failed dialect probe failed", exc_info=True)

"""The telemetry hook of the plugin ABI (1.1): plugins open spans and record metrics through it; core ships only
the no-op implementation, and telemetry distributions (OpenTelemetry, X-Ray) provide real ones.

Cost when unused: one attribute read and one call returning a shared no-op object.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Protocol

__all__ = ["TelemetryContext", "TelemetryCounter", "TelemetryFactory", "NULL_TELEMETRY"]


class TelemetryContext(Protocol):
    """One span: a context manager; attributes and the outcome are recorded on it."""

    def __enter__(self) -> TelemetryContext: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def set_attribute(self, key: str, value: object) -> None: ...

    def set_exception(self, error: BaseException) -> None: ...


class TelemetryCounter(Protocol):
    def inc(self, value: int = 1, attributes: Mapping[str, object] | None = None) -> None: ...


class TelemetryFactory(Protocol):
    """What a plugin receives as ``context.telemetry``."""

    @property
    def enabled(self) -> bool:
        """False for the no-op implementation: a plugin may skip building attributes."""
        ...

    def open_span(self, name: str, *, top_level: bool = False) -> TelemetryContext: ...

    def counter(self, name: str) -> TelemetryCounter: ...


class _NullSpan:
    __slots__ = ()

    def __enter__(self) -> _NullSpan:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def set_attribute(self, key: str, value: object) -> None:
        return None

    def set_exception(self, error: BaseException) -> None:
        return None


class _NullCounter:
    __slots__ = ()

    def inc(self, value: int = 1, attributes: Mapping[str, object] | None = None) -> None:
        return None


_SPAN = _NullSpan()
_COUNTER = _NullCounter()


class _NullTelemetry:
    __slots__ = ()

    @property
    def enabled(self) -> bool:
        return False

    def open_span(self, name: str, *, top_level: bool = False) -> TelemetryContext:
        return _SPAN

    def counter(self, name: str) -> TelemetryCounter:
        return _COUNTER


NULL_TELEMETRY: TelemetryFactory = _NullTelemetry()

"""The ``xray`` telemetry backend: aws-wrapper's spans as AWS X-Ray segments and subsegments (aws-xray-sdk).

The application configures the recorder (``xray_recorder.configure(daemon_address=..., sampling=...)``); by default
the SDK sends to the daemon on 127.0.0.1:2000. A top-level span (or any span with no segment open on the thread)
begins a segment, a nested one a subsegment of the current entity. Attributes become annotations when they are
scalars (keys reduced to letters, digits and underscores, as X-Ray requires), metadata otherwise. X-Ray records no
metrics: naming it as ``telemetry_metrics_backend`` is a configuration error.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aws_xray_sdk.core import xray_recorder

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.telemetry import NULL_TELEMETRY, TelemetryConfig, TelemetryContext, TelemetryCounter

__all__ = ["XRayTelemetryFactory", "current_entities"]

_KEY = re.compile(r"[^A-Za-z0-9_]")


def current_entities(recorder: Any = None) -> list[Any]:
    """The segment / subsegment stack the recorder keeps for this thread (or task), without the SDK's
    "context missing" handling (which logs an error or raises when nothing is open)."""
    recorder = xray_recorder if recorder is None else recorder
    local = getattr(recorder.context, "_local", None)
    entities = getattr(local, "entities", None) if local is not None else None
    return entities if isinstance(entities, list) else []


class _Span:
    __slots__ = ("_entity", "_factory", "_name", "_saved", "_segment", "_top_level")

    def __init__(self, factory: XRayTelemetryFactory, name: str, top_level: bool) -> None:
        self._factory = factory
        self._name = name
        self._top_level = top_level
        self._entity: Any = None
        self._segment = False
        self._saved: list[Any] | None = None

    def __enter__(self) -> _Span:
        recorder = self._factory.recorder
        open_ = current_entities(recorder)
        if not open_ or (self._top_level and self._factory.submit_toplevel):
            if open_:  # a trace of its own: the application's entities are put back afterwards
                self._saved = list(open_)
            self._entity = recorder.begin_segment(self._name)
            self._segment = True
        else:
            self._entity = recorder.begin_subsegment(self._name)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            self.set_exception(exc)
        recorder = self._factory.recorder
        if self._segment:
            recorder.end_segment()
            saved, self._saved = self._saved, None
            if saved is not None:
                recorder.context._local.entities = saved
        elif self._entity is not None:
            recorder.end_subsegment()

    def set_attribute(self, key: str, value: object) -> None:
        entity = self._entity
        if entity is None:
            return
        if isinstance(value, (str, bool, int, float)):
            entity.put_annotation(_KEY.sub("_", key), value)
        else:
            entity.put_metadata(key, repr(value), "aws_wrapper")

    def set_exception(self, error: BaseException) -> None:
        entity = self._entity
        if entity is not None:
            entity.add_exception(error, traceback.extract_tb(error.__traceback__))


class XRayTelemetryFactory:
    """The ``TelemetryFactory`` of the ``xray`` backend (entry point of group ``aws_wrapper.telemetry``)."""

    def __init__(self, config: TelemetryConfig | None = None, recorder: Any = None) -> None:
        if config is not None and config.metrics_backend == "xray":
            raise ConfigurationError(
                "invalid value 'xray' for setting 'telemetry_metrics_backend': X-Ray records no metrics; name "
                "otlp (aws-wrapper-telemetry-otel) or none"
            )
        self.submit_toplevel = bool(config is not None and config.submit_toplevel)
        self.recorder: Any = xray_recorder if recorder is None else recorder

    @property
    def enabled(self) -> bool:
        return True

    def open_span(self, name: str, *, top_level: bool = False) -> TelemetryContext:
        return _Span(self, name, top_level)

    def counter(self, name: str) -> TelemetryCounter:
        return NULL_TELEMETRY.counter(name)

    def gauge(self, name: str, callback: Callable[[], float]) -> None:
        return None

    def __repr__(self) -> str:
        return f"XRayTelemetryFactory(submit_toplevel={self.submit_toplevel!r})"

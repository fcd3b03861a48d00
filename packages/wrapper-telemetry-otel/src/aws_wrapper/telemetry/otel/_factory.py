"""The ``otlp`` telemetry backend: aws-wrapper's spans and metrics through the OpenTelemetry *API*.

The application configures the SDK (tracer and meter providers, exporters); until it does, the API's no-op
providers are used. Instrumentation name ``aws-advanced-python-wrapper``, as upstream.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation

from aws_wrapper.core.telemetry import TelemetryConfig, TelemetryContext, TelemetryCounter

from .version import __version__

__all__ = ["INSTRUMENTATION_NAME", "OtelTelemetryFactory"]

INSTRUMENTATION_NAME = "aws-advanced-python-wrapper"

_Attr = Any  # str | bool | int | float and sequences of them (what OpenTelemetry accepts)


def _attribute(value: object) -> _Attr:
    """OpenTelemetry keeps str, bool, int, float (and sequences of one of them); anything else as its repr."""
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, bool, int, float)) for v in value):
        return list(value)
    return repr(value)


def _attributes(attributes: Mapping[str, object] | None) -> dict[str, _Attr] | None:
    if not attributes:
        return None
    return {key: _attribute(value) for key, value in attributes.items()}


class _Span:
    """One span: started and made current on ``__enter__``, ended on ``__exit__`` (an error is recorded on it)."""

    __slots__ = ("_factory", "_name", "_span", "_token", "_top_level")

    def __init__(self, factory: OtelTelemetryFactory, name: str, top_level: bool) -> None:
        self._factory = factory
        self._name = name
        self._top_level = top_level
        self._span: trace.Span = trace.INVALID_SPAN
        self._token: object = None

    def __enter__(self) -> _Span:
        tracer = self._factory.tracer
        parent = trace.get_current_span()
        parent_context = parent.get_span_context()
        if self._top_level and self._factory.submit_toplevel and parent_context.is_valid:
            # A trace of its own, linked to (not parented by) the application's span, as upstream.
            span = tracer.start_span(
                self._name,
                context=otel_context.Context(),
                links=[trace.Link(parent_context)],
                record_exception=False,
                set_status_on_exception=False,
            )
            span.set_attribute("trace_name", self._name)
        else:  # nested in the current span; with none, it starts a trace (a root span)
            span = tracer.start_span(self._name, record_exception=False, set_status_on_exception=False)
        self._span = span
        self._token = otel_context.attach(trace.set_span_in_context(span))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        span = self._span
        if exc is not None:
            self.set_exception(exc)
        token = self._token
        self._token = None
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]
        span.end()

    def set_attribute(self, key: str, value: object) -> None:
        self._span.set_attribute(key, _attribute(value))

    def set_exception(self, error: BaseException) -> None:
        span = self._span
        span.record_exception(error)
        span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(error).__name__}: {error}"))

    @property
    def span(self) -> trace.Span:
        """The OpenTelemetry span (valid between ``__enter__`` and ``__exit__``)."""
        return self._span


class _Counter:
    __slots__ = ("_instrument",)

    def __init__(self, instrument: metrics.UpDownCounter) -> None:
        self._instrument = instrument

    def inc(self, value: int = 1, attributes: Mapping[str, object] | None = None) -> None:
        self._instrument.add(value, _attributes(attributes))


class OtelTelemetryFactory:
    """The ``TelemetryFactory`` of the ``otlp`` backend (entry point of group ``aws_wrapper.telemetry``). Called by
    core with the connection's :class:`TelemetryConfig`, once per process and configuration.

    Counters are up-down counters and gauges observable up-down counters (as upstream); instruments are created
    once per name and shared by every connection using this factory."""

    def __init__(
        self,
        config: TelemetryConfig | None = None,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        """Core calls it with the connection's config only: the global providers are used (the API's proxies until
        the application sets them). An application that installs a factory itself
        (``install_telemetry_factory``) may name its own providers."""
        self.submit_toplevel = bool(config is not None and config.submit_toplevel)
        self.tracer = trace.get_tracer(INSTRUMENTATION_NAME, __version__, tracer_provider=tracer_provider)
        self.meter = metrics.get_meter(INSTRUMENTATION_NAME, __version__, meter_provider=meter_provider)
        self._lock = threading.Lock()
        self._counters: dict[str, _Counter] = {}
        self._gauges: dict[str, list[Callable[[], float]]] = {}

    @property
    def enabled(self) -> bool:
        return True

    def open_span(self, name: str, *, top_level: bool = False) -> TelemetryContext:
        return _Span(self, name, top_level)

    def counter(self, name: str) -> TelemetryCounter:
        found = self._counters.get(name)
        if found is not None:
            return found
        with self._lock:
            found = self._counters.get(name)
            if found is None:
                found = self._counters[name] = _Counter(self.meter.create_up_down_counter(name))
        return found

    def gauge(self, name: str, callback: Callable[[], float]) -> None:
        """Report ``callback()`` under ``name`` at each collection; several callbacks of one name add up (e.g. a
        cache size per connection). A callback that raises is skipped for that collection."""
        with self._lock:
            callbacks = self._gauges.get(name)
            if callbacks is not None:
                callbacks.append(callback)
                return
            callbacks = self._gauges[name] = [callback]

        def observe(options: CallbackOptions) -> Iterable[Observation]:
            total = 0.0
            for each in list(callbacks):
                try:
                    total += float(each())
                except Exception:
                    continue
            return [Observation(total)]

        self.meter.create_observable_up_down_counter(name, callbacks=[observe])

    def __repr__(self) -> str:
        return f"OtelTelemetryFactory(submit_toplevel={self.submit_toplevel!r})"

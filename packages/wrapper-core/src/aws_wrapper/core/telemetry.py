"""The telemetry hook of the plugin ABI (1.1): plugins open spans and record metrics through ``context.telemetry``;
core ships only the no-op implementation, and telemetry distributions (OpenTelemetry, X-Ray) provide real ones.

Enabling it, per connection, with upstream's settings:

* ``enable_telemetry=True`` and ``telemetry_traces_backend`` / ``telemetry_metrics_backend`` naming a backend that
  a distribution registers under the entry-point group ``aws_wrapper.telemetry`` (``otlp`` from
  aws-wrapper-telemetry-otel, ``xray`` from aws-wrapper-telemetry-xray, any third-party name; ``none`` turns that
  signal off). The entry point is loaded
  the first time a connection asks for it and its factory is shared by the whole process; nothing is imported
  (not even ``importlib.metadata``) while telemetry is off.
* Or ``enable_telemetry=True`` naming no backend, with a factory the application installed for the whole process
  with :func:`install_telemetry_factory`.

Cost when off: one dictionary lookup per connection (:func:`telemetry_for`), nothing per call. When on, core also
opens a top-level span per wrapped DB-API call (named after the method, e.g. ``Cursor.execute``; see
``_telemetry_calls.py``), inside which plugin spans nest. Plugins receive
:data:`NULL_TELEMETRY`, whose ``enabled`` is False, so they can skip building attributes; its spans and counters
are shared no-op objects.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Protocol

from .errors import ConfigurationError
from .lifecycle import on_release
from .settings import Setting, boolean, optional, text

__all__ = [
    "TelemetryContext",
    "TelemetryCounter",
    "TelemetryFactory",
    "TelemetryBackend",
    "TelemetryConfig",
    "NULL_TELEMETRY",
    "ENTRY_POINT_GROUP",
    "TELEMETRY_SETTINGS",
    "install_telemetry_factory",
    "records_traces",
    "telemetry_for",
]

logger = logging.getLogger("aws_wrapper.core")

#: Entry-point group of telemetry backends: ``<backend name> = "module:callable"`` (see :class:`TelemetryBackend`).
ENTRY_POINT_GROUP = "aws_wrapper.telemetry"

#: Where first-party backends live, for the "install X" hint.
_FIRST_PARTY = {
    "otlp": "aws-wrapper-telemetry-otel",
    "otel": "aws-wrapper-telemetry-otel",
    "xray": "aws-wrapper-telemetry-xray",
}
_NONE = "none"


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

    def open_span(self, name: str, *, top_level: bool = False) -> TelemetryContext:
        """A span named ``name``, nested in the current one; ``top_level`` asks for a trace of its own (backends
        honour it only with ``telemetry_submit_toplevel``, as upstream does)."""
        ...

    def counter(self, name: str) -> TelemetryCounter: ...

    def gauge(self, name: str, callback: Callable[[], float]) -> None:
        """Report ``callback()`` as the value of ``name`` whenever the backend collects metrics."""
        ...


# -- the no-op implementation ------------------------------------------------------------------------------------
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

    def gauge(self, name: str, callback: Callable[[], float]) -> None:
        return None

    def __repr__(self) -> str:
        return "NULL_TELEMETRY"


NULL_TELEMETRY: TelemetryFactory = _NullTelemetry()


# -- settings ---------------------------------------------------------------------------------------------------
ENABLE_TELEMETRY = boolean(
    "enable_telemetry",
    False,
    "Record the wrapper's traces and metrics through the backends named below (or an installed factory).",
)
TRACES_BACKEND = optional(
    text(
        "telemetry_traces_backend",
        "",
        "Telemetry backend for traces: the name of an installed aws_wrapper.telemetry entry point (otlp, xray, "
        "...), case-insensitive; none: no traces.",
    )
)
METRICS_BACKEND = optional(
    text(
        "telemetry_metrics_backend",
        "",
        "Telemetry backend for metrics, as telemetry_traces_backend (X-Ray has none).",
    )
)
SUBMIT_TOPLEVEL = optional(
    boolean(
        "telemetry_submit_toplevel",
        False,
        "Let spans that ask for it start a trace of their own (else they are nested in the current one).",
    )
)
SUBMIT_TOP_LEVEL = optional(
    boolean(
        "telemetry_submit_top_level", False, "The spelling of telemetry_submit_toplevel in upstream's docs."
    )
)

FAILOVER_ADDITIONAL_TOP_TRACE = boolean(
    "telemetry_failover_additional_top_trace",
    False,
    "Also post the failover span as a top-level trace (read by the failover plugin).",
)

#: The settings of upstream's telemetry group (stripped from the driver's arguments like core's own).
TELEMETRY_SETTINGS: tuple[Setting[object], ...] = (  # type: ignore[assignment]
    ENABLE_TELEMETRY,
    TRACES_BACKEND,
    METRICS_BACKEND,
    SUBMIT_TOPLEVEL,
    SUBMIT_TOP_LEVEL,
    FAILOVER_ADDITIONAL_TOP_TRACE,
)


class TelemetryConfig:
    """The telemetry settings of a connection, parsed (backend names lowercased, None when unset). Immutable and
    hashable (a plain class rather than a dataclass: it is defined at import, which must stay cheap)."""

    __slots__ = ("enabled", "metrics_backend", "submit_toplevel", "traces_backend")

    enabled: bool
    traces_backend: str | None
    metrics_backend: str | None
    submit_toplevel: bool

    def __init__(
        self, enabled: bool, traces_backend: str | None, metrics_backend: str | None, submit_toplevel: bool
    ) -> None:
        set_ = object.__setattr__
        set_(self, "enabled", enabled)
        set_(self, "traces_backend", traces_backend)
        set_(self, "metrics_backend", metrics_backend)
        set_(self, "submit_toplevel", submit_toplevel)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"TelemetryConfig is immutable: cannot set {name!r}")

    def _key(self) -> tuple[bool, str | None, str | None, bool]:
        return (self.enabled, self.traces_backend, self.metrics_backend, self.submit_toplevel)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TelemetryConfig) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"TelemetryConfig(enabled={self.enabled!r}, traces_backend={self.traces_backend!r}, "
            f"metrics_backend={self.metrics_backend!r}, submit_toplevel={self.submit_toplevel!r})"
        )

    @classmethod
    def parse(cls, props: Mapping[str, object]) -> TelemetryConfig:
        toplevel = SUBMIT_TOPLEVEL.get(props)
        if toplevel is None:
            toplevel = SUBMIT_TOP_LEVEL.get(props)
        return cls(
            enabled=ENABLE_TELEMETRY.get(props),
            traces_backend=_backend_name(TRACES_BACKEND.get(props)),
            metrics_backend=_backend_name(METRICS_BACKEND.get(props)),
            submit_toplevel=bool(toplevel),
        )


def _backend_name(value: str | None) -> str | None:
    name = (value or "").strip().lower()
    return name or None


class TelemetryBackend(Protocol):
    """What an ``aws_wrapper.telemetry`` entry point loads (a class or a function). Called once per process and
    distinct :class:`TelemetryConfig`, on the thread of the first connection that asks for it; the factory it
    returns is used for traces when ``config.traces_backend`` is this backend's name and for metrics when
    ``config.metrics_backend`` is. It raises :class:`~aws_wrapper.core.errors.ConfigurationError` for what it does
    not support (e.g. X-Ray asked for metrics)."""

    def __call__(self, config: TelemetryConfig) -> TelemetryFactory: ...


# -- process-wide factories ------------------------------------------------------------------------------------------
_lock = threading.Lock()
_installed: TelemetryFactory | None = None
_factories: dict[TelemetryConfig, TelemetryFactory] = {}


@on_release
def _forget_factories() -> None:
    """``release_resources()``: backends are called again for the next connection that enables telemetry."""
    with _lock:
        _factories.clear()


def install_telemetry_factory(factory: TelemetryFactory | None) -> None:
    """Install ``factory`` for the whole process: connections with ``enable_telemetry=True`` that name no backend
    use it (named backends win). ``None`` removes it. Connections opened earlier keep the factory they got."""
    global _installed
    with _lock:
        _installed = factory


def telemetry_for(props: Mapping[str, object]) -> TelemetryFactory:
    """The telemetry factory of a connection with settings ``props`` (called once per wrapper connection): the
    no-op one unless ``enable_telemetry`` is true. Raises :class:`ConfigurationError` for a malformed setting, a
    backend that is not installed or fails to load, or telemetry enabled with nothing to record into."""
    raw = props.get("enable_telemetry")
    if raw is None or raw is False:
        return NULL_TELEMETRY
    config = TelemetryConfig.parse(props)
    if not config.enabled:
        return NULL_TELEMETRY
    factory = _factories.get(config)
    if factory is not None:
        return factory
    with _lock:
        installed = _installed
        factory = _factories.get(config)
        if factory is not None:
            return factory
        traces, metrics = config.traces_backend, config.metrics_backend
        if traces is None and metrics is None:
            if installed is not None:
                return installed  # not cached: install_telemetry_factory() may replace it
            raise ConfigurationError(
                f"invalid value {raw!r} for setting 'enable_telemetry': neither telemetry_traces_backend nor "
                "telemetry_metrics_backend names a backend and no factory was installed with "
                f"install_telemetry_factory(); installed backends: {', '.join(_installed_names()) or 'none'}"
            )
        made: dict[str, TelemetryFactory] = {}
        for setting, name in ((TRACES_BACKEND, traces), (METRICS_BACKEND, metrics)):
            if name is not None and name != _NONE and name not in made:
                made[name] = _load(setting.name, name, config)
        factory = _combine(
            made.get(traces or _NONE, NULL_TELEMETRY), made.get(metrics or _NONE, NULL_TELEMETRY)
        )
        _factories[config] = factory
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("telemetry: traces to %s, metrics to %s", traces or _NONE, metrics or _NONE)
    return factory


def records_traces(factory: TelemetryFactory) -> bool:
    """Whether ``factory`` records spans (False for the no-op one, and for metrics without traces)."""
    if isinstance(factory, _Split):
        return factory._traces.enabled
    return factory.enabled


def _installed_names() -> list[str]:
    from .registry import REGISTRY

    return sorted({ep.name.strip().lower() for ep in REGISTRY.entry_points(ENTRY_POINT_GROUP)})


def _load(setting: str, name: str, config: TelemetryConfig) -> TelemetryFactory:
    from .registry import REGISTRY  # only when telemetry is enabled

    found = [ep for ep in REGISTRY.entry_points(ENTRY_POINT_GROUP) if ep.name.strip().lower() == name]
    if not found:
        hint = ""
        if name in _FIRST_PARTY:
            dist = _FIRST_PARTY[name]
            extra = dist.removeprefix("aws-wrapper-telemetry-")
            hint = f" (pip install {dist}, or aws-wrapper[{extra}])"
        raise ConfigurationError(
            f"invalid value {name!r} for setting {setting!r}: no telemetry backend {name!r} is installed{hint}; "
            f"installed backends: {', '.join(_installed_names()) or 'none'}; none turns it off"
        )
    ep = found[0]
    dist = ep.dist.name if ep.dist is not None else "<unknown distribution>"
    try:
        backend: TelemetryBackend = ep.load()
        factory = backend(config)
    except ConfigurationError:
        raise
    except Exception as exc:
        raise ConfigurationError(
            f"invalid value {name!r} for setting {setting!r}: telemetry backend {name!r} from {dist} could not be "
            f"loaded: {type(exc).__name__}: {exc}"
        ) from exc
    return factory


def _combine(traces: TelemetryFactory, metrics: TelemetryFactory) -> TelemetryFactory:
    return traces if traces is metrics else _Split(traces, metrics)


class _Split:
    """Traces from one backend, metrics from another (either may be the no-op one)."""

    __slots__ = ("_metrics", "_traces")

    def __init__(self, traces: TelemetryFactory, metrics: TelemetryFactory) -> None:
        self._traces = traces
        self._metrics = metrics

    @property
    def enabled(self) -> bool:
        return self._traces.enabled or self._metrics.enabled

    def open_span(self, name: str, *, top_level: bool = False) -> TelemetryContext:
        return self._traces.open_span(name, top_level=top_level)

    def counter(self, name: str) -> TelemetryCounter:
        return self._metrics.counter(name)

    def gauge(self, name: str, callback: Callable[[], float]) -> None:
        self._metrics.gauge(name, callback)

"""Upstream's logger names (``aws_advanced_python_wrapper.<module>``) for the wrapper's plugins.

Upstream logs under its module paths, and its documentation configures those, e.g. a ``logging.conf`` with
``[logger_failover] level=DEBUG qualname=aws_advanced_python_wrapper.failover_plugin``. Each plugin here logs
through its own leaf logger below its package's logger (``aws_wrapper.failover.failover_plugin`` below
``aws_wrapper.failover``), an :class:`UpstreamNamedLogger`: it behaves as if every record were logged once
under its own name and once under each upstream name it stands for, while every handler receives the record at
most once.

* **Levels.** The leaf is enabled for a level when its own hierarchy is (stdlib rules), or when an upstream name
  is: the upstream logger of that name, else its nearest existing ancestor below the root
  (``aws_advanced_python_wrapper``), not disabled, lets the level through. The answer is cached in the logger's
  own ``_cache``, which the standard library clears on every ``setLevel`` / ``logging.disable`` anywhere, so
  ``isEnabledFor`` stays one dict lookup when logging is off (it is even one attribute read cheaper than the
  stdlib's, which checks ``disabled`` first: here a change of ``disabled`` clears the cache instead).
* **Dispatch.** A record goes through the leaf's own hierarchy (its filters, its handlers, its ancestors' while
  they propagate, up to the root) if that hierarchy is enabled for the record's level, and through each enabled
  upstream name's hierarchy the same way (that logger's filters, its handlers and its ancestors', root
  included): exactly what upstream would do with the same configuration. Handlers reached twice are called once.
* **disabled / disable_existing_loggers.** ``disabled`` applies per name. A ``fileConfig`` / ``dictConfig`` that
  names an upstream logger but not ours disables our leaf (an existing logger it does not name): the route
  through ``aws_wrapper.*`` is off, the route through the configured upstream name is not, so the configured
  logger receives the records whatever the order of import and configuration. A configuration that names
  neither (root only) silences both, as it silences any library's loggers (and upstream's own).
* **Record names.** Records carry the package logger's name (``aws_wrapper.failover``), the stable names
  formats, filters and tests already use; the leaf names only address one plugin in a configuration.

Every leaf of :data:`UPSTREAM_LOGGERS` is installed when :mod:`aws_wrapper.core` is imported, so a plugin module
keeps a plain ``logger = logging.getLogger("aws_wrapper.failover.failover_plugin")``; a distribution whose plugin
is not in the table calls :func:`upstream_logger`. The logger class is set for these names only (never
``logging.setLoggerClass``); a leaf the application created first is converted in place (handlers and level
kept), and a custom logger class of the application's is kept as a base.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, cast

__all__ = [
    "FAMILIES_TO_COME",
    "UPSTREAM_LOGGERS",
    "UPSTREAM_PACKAGE",
    "UpstreamNamedLogger",
    "install_upstream_loggers",
    "upstream_logger",
]

UPSTREAM_PACKAGE = "aws_advanced_python_wrapper"

#: Leaf logger of each plugin that exists here and upstream -> upstream modules whose logger names also receive
#: its records (``aws_advanced_python_wrapper.<module>``). Several modules of a package may share a leaf
#: (failover's candidate race logs through the failover plugin's), and a leaf may stand for several upstream
#: modules (our ``failover`` is also upstream's ``failover_v2``).
_BUILT_IN: dict[str, tuple[str, ...]] = {
    # aws-wrapper-failover
    "aws_wrapper.failover.failover_plugin": (
        "failover_plugin",
        "failover_v2_plugin",
        "writer_failover_handler",
        "reader_failover_handler",
    ),
    "aws_wrapper.failover.stale_dns_plugin": ("stale_dns_plugin",),
    "aws_wrapper.failover.aurora_connection_tracker_plugin": ("aurora_connection_tracker_plugin",),
    "aws_wrapper.failover.aurora_initial_connection_strategy_plugin": (
        "aurora_initial_connection_strategy_plugin",
    ),
    # aws-wrapper-efm (the plugin and its shared monitors)
    "aws_wrapper.efm.host_monitoring_plugin": ("host_monitoring_plugin", "host_monitoring_v2_plugin"),
    # aws-wrapper-core's built-in plugins
    "aws_wrapper.core.plugins.connect_time_plugin": ("connect_time_plugin",),
    "aws_wrapper.core.plugins.execute_time_plugin": ("execute_time_plugin",),
    "aws_wrapper.core.plugins.developer_plugin": ("developer_plugin",),
    # aws-wrapper-dialects: topology (monitor, probes, provider) and dialect detection
    "aws_wrapper.dialects.cluster_topology_monitor": ("cluster_topology_monitor", "host_list_provider"),
    "aws_wrapper.dialects.host_list_provider": ("host_list_provider",),
    "aws_wrapper.dialects.database_dialect": ("database_dialect",),
}

#: The families to come: the leaf each one logs through (installed in advance, so the family needs only
#: ``logging.getLogger(<leaf>)``) and the upstream modules it stands for.
FAMILIES_TO_COME: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "aws_wrapper.auth.iam.iam_plugin": ("iam_plugin",),
        "aws_wrapper.auth.secrets.aws_secrets_manager_plugin": ("aws_secrets_manager_plugin",),
        "aws_wrapper.auth.federated.federated_plugin": ("federated_plugin",),
        "aws_wrapper.auth.okta.okta_plugin": ("okta_plugin",),
        "aws_wrapper.rws.read_write_splitting_plugin": ("read_write_splitting_plugin",),
        "aws_wrapper.rws.simple_read_write_splitting_plugin": ("simple_read_write_splitting_plugin",),
        "aws_wrapper.rws.gdb_read_write_splitting_plugin": ("gdb_read_write_splitting_plugin",),
        "aws_wrapper.rws.fastest_response_strategy_plugin": ("fastest_response_strategy_plugin",),
        "aws_wrapper.bg.blue_green_plugin": ("blue_green_plugin",),
        "aws_wrapper.limitless.limitless_plugin": ("limitless_plugin",),
        "aws_wrapper.custom_endpoint.custom_endpoint_plugin": ("custom_endpoint_plugin",),
        "aws_wrapper.failover.gdb_failover_plugin": ("gdb_failover_plugin",),
    }
)

#: Every leaf installed at import: the built-in plugins' and the families' to come.
UPSTREAM_LOGGERS: Mapping[str, tuple[str, ...]] = MappingProxyType({**_BUILT_IN, **FAMILIES_TO_COME})

# logging's module lock (an RLock in 3.10-3.13): held while a cache is filled, as the stdlib does, so that a
# setLevel elsewhere (which clears every cache under the same lock) cannot be overwritten by a stale answer.
_LOCK: Any = getattr(logging, "_lock", None) or threading.RLock()
_ROOT_PREFIX = UPSTREAM_PACKAGE + "."


def _origin(manager: logging.Manager, name: str) -> logging.Logger | None:
    """The logger a record logged under ``name`` would start from: that logger, else its nearest existing
    ancestor below the root; None when neither exists (nothing configured under upstream's names)."""
    loggers = manager.loggerDict
    while name:
        found = loggers.get(name)
        if isinstance(found, logging.Logger):
            return found
        name = name.rpartition(".")[0]
    return None


def _collect(logger: logging.Logger | None, handlers: list[logging.Handler]) -> None:
    """Append the handlers a record logged at ``logger`` reaches (stdlib propagation), skipping those already
    in ``handlers``."""
    while logger is not None:
        for handler in logger.handlers:
            if handler not in handlers:
                handlers.append(handler)
        if not logger.propagate:
            return
        logger = logger.parent


def _filtered(logger: logging.Logger, record: logging.LogRecord) -> logging.LogRecord | None:
    """``record`` (or the replacement a 3.12+ filter returned) if ``logger``'s filters let it through."""
    passed: object = logger.filter(record)
    if not passed:
        return None
    return passed if isinstance(passed, logging.LogRecord) else record


class UpstreamNamedLogger(logging.Logger):
    """A plugin's logger that also answers to upstream's names (see the module's documentation)."""

    #: Full upstream logger names (``aws_advanced_python_wrapper.failover_plugin``, ...).
    upstream_names: tuple[str, ...] = ()
    #: The name its records carry: the package logger's (the parent of the leaf).
    record_name: str = ""
    _cache: dict[int, bool]

    def __setattr__(self, name: str, value: object) -> None:
        if name != "disabled":
            object.__setattr__(self, name, value)
            return
        with _LOCK:  # a cached answer depends on ``disabled``: stale once it changes
            object.__setattr__(self, name, value)
            # getattr, not self.__dict__: touching __dict__ would materialise it and slow every attribute read
            cache: dict[int, bool] | None = getattr(self, "_cache", None)
            if cache:
                cache.clear()

    # -- the hot path: one cached lookup ----------------------------------------------------------------------
    def isEnabledFor(self, level: int) -> bool:
        try:
            return self._cache[level]
        except KeyError:
            return self._fill(level)

    def _fill(self, level: int) -> bool:
        with _LOCK:
            enabled = self.manager.disable < level and (
                self._own_route(level) or any(self._upstream_route(n, level) for n in self.upstream_names)
            )
            self._cache[level] = enabled
        return enabled

    def _own_route(self, level: int) -> bool:
        return not self.disabled and level >= logging.Logger.getEffectiveLevel(self)

    def _upstream_route(self, name: str, level: int) -> logging.Logger | None:
        origin = _origin(self.manager, name)
        if origin is None or origin.disabled or level < origin.getEffectiveLevel():
            return None
        return origin

    # -- levels, handlers -------------------------------------------------------------------------------------
    def getEffectiveLevel(self) -> int:
        """The lowest level any of its names lets through (its own hierarchy's, or an enabled upstream one's)."""
        level = logging.Logger.getEffectiveLevel(self)
        for name in self.upstream_names:
            origin = _origin(self.manager, name)
            if origin is not None and not origin.disabled:
                level = min(level, origin.getEffectiveLevel())
        return level

    def hasHandlers(self) -> bool:
        handlers: list[logging.Handler] = []
        _collect(self, handlers)
        for name in self.upstream_names:
            _collect(_origin(self.manager, name), handlers)
        return bool(handlers)

    def handle(self, record: logging.LogRecord) -> None:
        """Dispatch ``record`` through its own hierarchy and through each upstream name's, each only if enabled
        for the record's level; a handler reached through several of them is called once."""
        if record.name == self.name and self.record_name:
            record.name = self.record_name
        level = record.levelno
        handlers: list[logging.Handler] = []
        routed = False
        if self._own_route(level):
            passed = _filtered(self, record)
            if passed is not None:
                record = passed
                routed = True
                _collect(self, handlers)
        for name in self.upstream_names:
            origin = self._upstream_route(name, level)
            if origin is None:
                continue
            if origin.name == name:  # the logger it would be logged at upstream: its filters apply
                passed = _filtered(origin, record)
                if passed is None:
                    continue
                record = passed
            routed = True
            _collect(origin, handlers)
        if not routed:
            return
        if not handlers:
            last = logging.lastResort
            if last is not None and level >= last.level:
                last.handle(record)
            return
        for handler in handlers:
            if level >= handler.level:
                handler.handle(record)

    def _route(self, upstream: Iterable[str]) -> None:
        with _LOCK:
            names = list(self.upstream_names)
            names += [n for n in upstream if n not in names]
            self.upstream_names = tuple(names)
            self.record_name = self.name.rpartition(".")[0] or self.name
            self._cache.clear()


_CLASSES: dict[type[logging.Logger], type[UpstreamNamedLogger]] = {UpstreamNamedLogger: UpstreamNamedLogger}


def _class_for(base: type[logging.Logger]) -> type[UpstreamNamedLogger] | None:
    """The routing class built on ``base`` (the application's logger class, when it set one); None when the
    combination cannot be made."""
    if issubclass(base, UpstreamNamedLogger):
        return base
    if base is logging.Logger:
        return UpstreamNamedLogger
    found = _CLASSES.get(base)
    if found is None:
        try:
            found = cast(
                "type[UpstreamNamedLogger]",
                type(f"UpstreamNamed{base.__name__}", (UpstreamNamedLogger, base), {"__module__": __name__}),
            )
        except TypeError:
            return None
        _CLASSES[base] = found
    return found


def _full(name: str) -> str:
    if name.startswith(_ROOT_PREFIX):
        return name
    if not name or name.startswith(".") or name == UPSTREAM_PACKAGE:
        raise ValueError(f"invalid upstream module name {name!r}: expected e.g. 'failover_plugin'")
    return _ROOT_PREFIX + name


def upstream_logger(name: str, *upstream: str) -> logging.Logger:
    """The logger ``name`` (e.g. ``"aws_wrapper.auth.iam.iam_plugin"``), whose records also reach upstream's
    loggers ``aws_advanced_python_wrapper.<module>`` for each ``upstream`` module (``"iam_plugin"``; a full
    name is accepted too). Idempotent; upstream names add up over calls. Records carry the parent's name."""
    if not name.startswith("aws_wrapper.") or name.endswith("."):
        raise ValueError(f"invalid logger name {name!r}: expected 'aws_wrapper.<package>.<plugin>'")
    full = [_full(u) for u in upstream]
    manager = logging.Logger.manager
    with _LOCK:  # getLogger takes the same (reentrant) lock: nobody sees the loggerClass set for this name
        found = manager.loggerDict.get(name)
        if isinstance(found, logging.Logger):
            logger: logging.Logger = found
            cls = _class_for(type(found))
            if cls is not None and type(found) is not cls:
                with contextlib.suppress(TypeError):  # a layout that cannot be converted: left alone
                    found.__class__ = cls
        else:
            previous = manager.loggerClass
            cls = _class_for(previous or logging.getLoggerClass())
            manager.loggerClass = cls or previous
            try:
                logger = manager.getLogger(name)
            finally:
                manager.loggerClass = previous
        if isinstance(logger, UpstreamNamedLogger):
            logger._route(full)
    return logger


def install_upstream_loggers(table: Mapping[str, tuple[str, ...]] = UPSTREAM_LOGGERS) -> None:
    """Install every leaf of ``table`` (done once when :mod:`aws_wrapper.core` is imported)."""
    for name, upstream in table.items():
        upstream_logger(name, *upstream)

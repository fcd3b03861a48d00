"""Upstream's logger names (``aws_advanced_python_wrapper.<module>``) reach the plugins' records: level
resolution, one record per handler when both names are configured, ``disable_existing_loggers``, either order of
configuration and import, and the cost of ``isEnabledFor`` when logging is off."""

from __future__ import annotations

import importlib
import io
import itertools
import logging
import logging.config
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aws_wrapper.core import AwsWrapperConnection, _log_names
from aws_wrapper.core._log_names import (
    FAMILIES_TO_COME,
    UPSTREAM_LOGGERS,
    UpstreamNamedLogger,
    upstream_logger,
)

from ._fakes import FakeDriver, fake_connect

_names = itertools.count()


class Collect(logging.Handler):
    """Keeps what it receives (one entry per ``handle`` call that passed its level)."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def messages(self) -> list[str]:
        return [r.getMessage() for r in self.records]


_State = tuple[int, bool, bool, list[logging.Handler], list[Any]]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Every test leaves the logging configuration as it found it (fileConfig / dictConfig change every logger:
    levels, handlers, ``disabled``)."""
    manager = logging.Logger.manager
    root = logging.getLogger()
    saved: dict[str, _State] = {
        name: (lg.level, lg.propagate, lg.disabled, list(lg.handlers), list(lg.filters))
        for name, lg in list(manager.loggerDict.items())
        if isinstance(lg, logging.Logger)
    }
    root_state = (root.level, list(root.handlers), list(root.filters))
    logger_class = logging.getLoggerClass()
    yield
    logging.setLoggerClass(logger_class)
    logging.disable(logging.NOTSET)
    for name, lg in list(manager.loggerDict.items()):
        if isinstance(lg, logging.Logger):
            level, propagate, disabled, handlers, filters = saved.get(
                name, (logging.NOTSET, True, False, [], [])
            )
            lg.handlers[:] = handlers
            lg.filters[:] = filters
            lg.propagate = propagate
            lg.disabled = disabled
            lg.setLevel(level)
    root.handlers[:] = root_state[1]
    root.filters[:] = root_state[2]
    root.setLevel(root_state[0])  # also clears every logger's cache


@pytest.fixture
def names() -> tuple[str, str, str]:
    """A fresh (package logger, leaf, upstream name) triple, so that tests never share loggers."""
    n = next(_names)
    package = f"aws_wrapper.lognames{n}"
    return package, f"{package}.probe{n}_plugin", f"aws_advanced_python_wrapper.probe{n}_plugin"


def _leaf(names: tuple[str, str, str]) -> logging.Logger:
    _, leaf, upstream = names
    return upstream_logger(leaf, upstream.rpartition(".")[2])


def _seed_conf(upstream: str, extra_loggers: str = "", root_level: str = "WARNING") -> io.StringIO:
    """A logging.conf in the style of the seed's example ([logger_failover] level=DEBUG qualname=...)."""
    return io.StringIO(
        f"""
[loggers]
keys=root,failover{extra_loggers}

[handlers]
keys=consoleHandler

[formatters]
keys=simpleFormatter

[logger_root]
level={root_level}
handlers=

[logger_failover]
level=DEBUG
handlers=consoleHandler
qualname={upstream}

[handler_consoleHandler]
class=logging.NullHandler
level=DEBUG
formatter=simpleFormatter
args=()

[formatter_simpleFormatter]
format=%(asctime)s - %(name)s - %(levelname)s - %(message)s
"""
    )


def _swap_handler(name: str) -> Collect:
    """Replace the handlers of logger ``name`` (as configured) by one collecting handler."""
    handler = Collect()
    logging.getLogger(name).handlers[:] = [handler]
    return handler


# -- the table ---------------------------------------------------------------------------------------------------
def test_every_plugin_in_both_has_its_upstream_name() -> None:
    upstream = {u for names in UPSTREAM_LOGGERS.values() for u in names}
    for module in (
        "failover_plugin",
        "failover_v2_plugin",
        "host_monitoring_plugin",
        "host_monitoring_v2_plugin",
        "aurora_connection_tracker_plugin",
        "stale_dns_plugin",
        "aurora_initial_connection_strategy_plugin",
        "connect_time_plugin",
        "execute_time_plugin",
        "developer_plugin",
        "host_list_provider",
        "cluster_topology_monitor",
    ):
        assert module in upstream, module
    for module in (
        "iam_plugin",
        "aws_secrets_manager_plugin",
        "federated_plugin",
        "okta_plugin",
        "read_write_splitting_plugin",
        "blue_green_plugin",
        "limitless_plugin",
        "custom_endpoint_plugin",
        "fastest_response_strategy_plugin",
    ):
        assert any(module in names for names in FAMILIES_TO_COME.values()), module


def test_the_table_is_installed_at_import_without_changing_the_global_logger_class() -> None:
    assert logging.getLoggerClass() is logging.Logger
    for leaf, upstream in UPSTREAM_LOGGERS.items():
        logger = logging.getLogger(leaf)
        assert isinstance(logger, UpstreamNamedLogger), leaf
        assert logger.upstream_names == tuple(f"aws_advanced_python_wrapper.{u}" for u in upstream)
        assert logger.record_name == leaf.rpartition(".")[0]
    assert type(logging.getLogger("aws_wrapper.lognames.elsewhere")) is logging.Logger


@pytest.mark.parametrize(
    ("module", "leaf"),
    [
        ("aws_wrapper.core.plugins._connect_time", "aws_wrapper.core.plugins.connect_time_plugin"),
        ("aws_wrapper.core.plugins._execute_time", "aws_wrapper.core.plugins.execute_time_plugin"),
        ("aws_wrapper.core.plugins._dev", "aws_wrapper.core.plugins.developer_plugin"),
        ("aws_wrapper.failover._failover", "aws_wrapper.failover.failover_plugin"),
        ("aws_wrapper.failover._race", "aws_wrapper.failover.failover_plugin"),
        ("aws_wrapper.failover._stale_dns", "aws_wrapper.failover.stale_dns_plugin"),
        ("aws_wrapper.failover._tracker", "aws_wrapper.failover.aurora_connection_tracker_plugin"),
        ("aws_wrapper.failover._initial", "aws_wrapper.failover.aurora_initial_connection_strategy_plugin"),
        ("aws_wrapper.efm._plugin", "aws_wrapper.efm.host_monitoring_plugin"),
        ("aws_wrapper.efm._monitor", "aws_wrapper.efm.host_monitoring_plugin"),
        ("aws_wrapper.dialects._monitor", "aws_wrapper.dialects.cluster_topology_monitor"),
        ("aws_wrapper.dialects._provider", "aws_wrapper.dialects.host_list_provider"),
        ("aws_wrapper.dialects._manager", "aws_wrapper.dialects.database_dialect"),
    ],
)
def test_plugin_modules_log_through_their_leaf(module: str, leaf: str) -> None:
    try:
        loaded = importlib.import_module(module)
    except ImportError:  # pragma: no cover - that distribution is not installed
        pytest.skip(f"{module} is not installed")
    logger = loaded.logger
    assert logger is logging.getLogger(leaf)
    assert isinstance(logger, UpstreamNamedLogger)


# -- level resolution --------------------------------------------------------------------------------------------
def test_level_follows_the_upstream_name_and_its_ancestors(names: tuple[str, str, str]) -> None:
    package, _, upstream = names
    logging.getLogger().setLevel(logging.WARNING)
    leaf = _leaf(names)
    assert not leaf.isEnabledFor(logging.DEBUG)
    assert not leaf.isEnabledFor(logging.INFO)
    assert leaf.isEnabledFor(logging.WARNING)

    logging.getLogger(upstream).setLevel(logging.DEBUG)  # setLevel clears every cache: no stale answer
    assert leaf.isEnabledFor(logging.DEBUG)
    assert leaf.getEffectiveLevel() == logging.DEBUG
    logging.getLogger(upstream).setLevel(logging.NOTSET)
    assert not leaf.isEnabledFor(logging.DEBUG)

    # upstream's package logger (what upstream's set_logger() configures) while the module's logger is unset
    logging.getLogger("aws_advanced_python_wrapper").setLevel(logging.INFO)
    assert leaf.isEnabledFor(logging.INFO)
    assert not leaf.isEnabledFor(logging.DEBUG)
    logging.getLogger("aws_advanced_python_wrapper").setLevel(logging.NOTSET)

    # our own names work as before: the package logger and the leaf itself
    logging.getLogger(package).setLevel(logging.DEBUG)
    assert leaf.isEnabledFor(logging.DEBUG)
    logging.getLogger(package).setLevel(logging.NOTSET)
    assert not leaf.isEnabledFor(logging.INFO)
    leaf.setLevel(logging.INFO)
    assert leaf.isEnabledFor(logging.INFO)

    logging.disable(logging.INFO)
    assert not leaf.isEnabledFor(logging.INFO)
    logging.disable(logging.NOTSET)
    assert leaf.isEnabledFor(logging.INFO)


def test_disabled_applies_per_name(names: tuple[str, str, str]) -> None:
    _, _, upstream = names
    logging.getLogger().setLevel(logging.WARNING)
    leaf = _leaf(names)
    ours, theirs = Collect(), Collect()
    leaf.addHandler(ours)
    up = logging.getLogger(upstream)
    up.setLevel(logging.DEBUG)
    up.addHandler(theirs)
    assert leaf.isEnabledFor(logging.DEBUG)

    leaf.disabled = True  # a change of ``disabled`` clears the cached answers
    leaf.warning("upstream only")
    assert theirs.messages == ["upstream only"]
    assert ours.messages == []

    up.disabled = True
    up.setLevel(logging.DEBUG)
    assert not leaf.isEnabledFor(logging.CRITICAL)
    leaf.critical("nowhere")
    assert theirs.messages == ["upstream only"]

    leaf.disabled = False
    assert not leaf.isEnabledFor(logging.DEBUG)
    leaf.warning("ours only")
    assert ours.messages == ["ours only"]
    assert theirs.messages == ["upstream only"]


def test_each_route_has_its_own_level_and_reaches_the_root_like_upstream_would(
    names: tuple[str, str, str],
) -> None:
    package, _, upstream = names
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    at_root, at_package, at_upstream = Collect(), Collect(), Collect()
    root.addHandler(at_root)
    logging.getLogger(package).setLevel(logging.ERROR)
    logging.getLogger(package).addHandler(at_package)
    logging.getLogger(upstream).setLevel(logging.INFO)
    logging.getLogger(upstream).addHandler(at_upstream)
    leaf = _leaf(names)

    leaf.debug("below both")
    leaf.info("upstream's level")
    leaf.error("both levels")
    assert at_upstream.messages == ["upstream's level", "both levels"]
    assert at_package.messages == ["both levels"]  # our hierarchy is at ERROR
    assert at_root.messages == ["upstream's level", "both levels"]  # upstream's logger propagates to the root
    assert {r.name for r in at_upstream.records} == {package}  # records keep the package logger's name


# -- no duplicates -----------------------------------------------------------------------------------------------
def test_one_record_per_handler_when_both_names_are_configured(names: tuple[str, str, str]) -> None:
    package, _, upstream = names
    root = logging.getLogger()
    shared = Collect()
    for name in (package, upstream, "aws_advanced_python_wrapper"):
        logging.getLogger(name).setLevel(logging.DEBUG)
        logging.getLogger(name).addHandler(shared)
    root.addHandler(shared)
    own, theirs, at_root = Collect(), Collect(), Collect()
    logging.getLogger(package).addHandler(own)
    logging.getLogger(upstream).addHandler(theirs)
    root.addHandler(at_root)
    leaf = _leaf(names)

    leaf.debug("debug %d", 1)
    leaf.info("failover done")
    assert shared.messages == ["debug 1", "failover done"]  # reached five times, called once per record
    assert own.messages == ["debug 1", "failover done"]
    assert theirs.messages == ["debug 1", "failover done"]
    assert at_root.messages == ["debug 1", "failover done"]


def test_a_leaf_standing_for_several_upstream_names_delivers_once(names: tuple[str, str, str]) -> None:
    _, leaf_name, upstream = names
    handler = Collect()
    for module in ("one_plugin", "two_plugin"):
        logging.getLogger(f"{upstream}_{module}").setLevel(logging.DEBUG)
        logging.getLogger(f"{upstream}_{module}").addHandler(handler)
    leaf = upstream_logger(leaf_name, f"{upstream}_one_plugin", f"{upstream}_two_plugin")
    leaf.debug("once")
    assert handler.messages == ["once"]


def test_filters_of_the_upstream_logger_apply_to_its_route_only(names: tuple[str, str, str]) -> None:
    package, _, upstream = names
    own, theirs = Collect(), Collect()
    logging.getLogger(package).setLevel(logging.DEBUG)
    logging.getLogger(package).addHandler(own)
    up = logging.getLogger(upstream)
    up.setLevel(logging.DEBUG)
    up.addHandler(theirs)
    up.addFilter(lambda record: "secret" not in record.getMessage())
    leaf = _leaf(names)
    leaf.info("public")
    leaf.info("secret")
    assert own.messages == ["public", "secret"]
    assert theirs.messages == ["public"]


def test_no_handler_anywhere_falls_back_to_the_last_resort(
    names: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    last = Collect(logging.WARNING)
    monkeypatch.setattr(logging, "lastResort", last)
    root = logging.getLogger()
    root.handlers[:] = []
    leaf = _leaf(names)
    leaf.warning("to stderr")
    leaf.info("dropped")
    assert last.messages == ["to stderr"]


# -- disable_existing_loggers and the order of configuration and import ------------------------------------------
def test_file_config_naming_the_upstream_logger_after_import(names: tuple[str, str, str]) -> None:
    package, _, upstream = names
    leaf = _leaf(names)  # "imported" before the configuration
    logging.config.fileConfig(_seed_conf(upstream))  # disable_existing_loggers=True by default
    assert leaf.disabled  # an existing logger the file does not name...
    handler = _swap_handler(upstream)
    assert leaf.isEnabledFor(logging.DEBUG)  # ...still reaches the one it names
    leaf.debug("failover (strict_writer) started")
    leaf.info("failover done")
    assert handler.messages == ["failover (strict_writer) started", "failover done"]
    assert {r.name for r in handler.records} == {package}


def test_file_config_naming_the_upstream_logger_before_import(names: tuple[str, str, str]) -> None:
    _, _, upstream = names
    logging.config.fileConfig(_seed_conf(upstream))
    handler = _swap_handler(upstream)
    leaf = _leaf(names)  # created after the configuration
    assert not leaf.disabled
    leaf.debug("debug")
    assert handler.messages == ["debug"]


def test_a_configuration_naming_neither_name_silences_the_leaf_like_any_library(
    names: tuple[str, str, str],
) -> None:
    leaf = _leaf(names)
    handler = Collect()
    logging.config.dictConfig({"version": 1, "root": {"level": "DEBUG"}})
    logging.getLogger().addHandler(handler)
    assert leaf.disabled
    assert not leaf.isEnabledFor(logging.CRITICAL)
    leaf.critical("silenced")
    assert handler.messages == []


def test_dict_config_naming_upstreams_package_logger(names: tuple[str, str, str]) -> None:
    _leaf_logger = _leaf(names)
    handler = Collect()
    logging.config.dictConfig(
        {
            "version": 1,
            "handlers": {"h": {"class": "logging.NullHandler"}},
            "loggers": {"aws_advanced_python_wrapper": {"level": "DEBUG", "handlers": ["h"]}},
        }
    )
    logging.getLogger("aws_advanced_python_wrapper").handlers[:] = [handler]
    assert _leaf_logger.disabled
    _leaf_logger.debug("through the package logger")
    assert handler.messages == ["through the package logger"]


def test_our_own_names_in_a_file_config_keep_working(names: tuple[str, str, str]) -> None:
    package, _, upstream = names
    leaf = _leaf(names)
    conf = _seed_conf(upstream).getvalue().replace(f"qualname={upstream}", f"qualname={package}")
    logging.config.fileConfig(io.StringIO(conf))
    handler = _swap_handler(package)
    assert not leaf.disabled  # a child of a named logger is kept
    leaf.debug("ours")
    assert handler.messages == ["ours"]


# -- installation ------------------------------------------------------------------------------------------------
def test_a_leaf_created_first_by_the_application_is_converted_in_place(names: tuple[str, str, str]) -> None:
    _, leaf_name, upstream = names
    handler = Collect()
    early = logging.getLogger(leaf_name)
    early.addHandler(handler)
    early.setLevel(logging.INFO)
    assert type(early) is logging.Logger
    leaf = _leaf(names)
    assert leaf is early
    assert isinstance(leaf, UpstreamNamedLogger)
    assert leaf.level == logging.INFO
    leaf.info("kept")
    assert handler.messages == ["kept"]
    assert upstream_logger(leaf_name) is leaf  # idempotent
    assert leaf.upstream_names == (upstream,)


def test_the_applications_logger_class_is_kept_as_a_base(names: tuple[str, str, str]) -> None:
    class AppLogger(logging.Logger):
        def app(self) -> str:
            return "app"

    logging.setLoggerClass(AppLogger)
    leaf = _leaf(names)
    assert isinstance(leaf, AppLogger)
    assert isinstance(leaf, UpstreamNamedLogger)
    assert logging.getLoggerClass() is AppLogger


@pytest.mark.parametrize(
    ("name", "upstream"),
    [
        ("aws_wrapper.", "x_plugin"),
        ("other.pkg.x", "x_plugin"),
        ("aws_wrapper.p.x", ".x"),
        ("aws_wrapper.p.x", ""),
    ],
)
def test_invalid_names_are_refused(name: str, upstream: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        upstream_logger(name, upstream)


# -- end to end on the fake driver -------------------------------------------------------------------------------
def test_the_execute_time_plugin_logs_under_upstreams_name(fake_driver: FakeDriver) -> None:
    logging.config.fileConfig(_seed_conf("aws_advanced_python_wrapper.execute_time_plugin"))
    handler = _swap_handler("aws_advanced_python_wrapper.execute_time_plugin")
    conn = AwsWrapperConnection.connect(fake_connect, host="db1", plugins="execute_time")
    conn.cursor().execute("SELECT 1")
    conn.close()
    assert any(m.startswith("Cursor.execute took") for m in handler.messages), handler.messages
    assert len(handler.messages) == len(set(map(id, handler.records)))
    assert {r.name for r in handler.records} == {"aws_wrapper.core.plugins"}


# -- the cost when logging is off --------------------------------------------------------------------------------
def _guarded(logger: logging.Logger) -> Callable[[int], bool]:
    """What a plugin does on its hot path: a debug record behind an ``isEnabledFor`` guard."""

    def call(level: int) -> bool:
        if logger.isEnabledFor(level):
            logger.debug("x %s", level)
            return True
        return False

    return call


def _ns_per_call(
    checks: dict[str, Callable[[int], bool]], rounds: int = 9, n: int = 100_000
) -> dict[str, float]:
    """Best-of-``rounds`` ns per call of each check, the checks interleaved round by round."""
    best = dict.fromkeys(checks, float("inf"))
    for _ in range(rounds):
        for name, check in checks.items():
            started = time.perf_counter_ns()
            for _ in range(n):
                check(logging.DEBUG)
            best[name] = min(best[name], (time.perf_counter_ns() - started) / n)
    return best


def test_is_enabled_for_stays_one_cached_lookup_when_off(
    names: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    package, _, _ = names
    logging.getLogger().setLevel(logging.WARNING)
    leaf = _leaf(names)
    plain = logging.getLogger(f"{package}.plain")  # a stdlib logger at the same depth
    assert type(plain) is logging.Logger
    assert not leaf.isEnabledFor(logging.DEBUG)
    assert not plain.isEnabledFor(logging.DEBUG)

    resolved: list[str] = []
    real = _log_names._origin

    def counting(manager: logging.Manager, name: str) -> logging.Logger | None:
        resolved.append(name)
        return real(manager, name)

    monkeypatch.setattr(_log_names, "_origin", counting)
    for _ in range(1000):
        assert not leaf.isEnabledFor(logging.DEBUG)
    assert resolved == []  # answered from the cache: no upstream name was looked at

    ns = _ns_per_call(
        {
            "plain": plain.isEnabledFor,
            "leaf": leaf.isEnabledFor,
            "guarded plain": _guarded(plain),
            "guarded leaf": _guarded(leaf),
        }
    )
    with capsys.disabled():
        print(
            f"\nisEnabledFor(DEBUG) with logging off, ns/call (best of 9 x 100k, interleaved): stdlib Logger "
            f"{ns['plain']:.1f}, UpstreamNamedLogger {ns['leaf']:.1f}; a guarded debug() call: stdlib "
            f"{ns['guarded plain']:.1f}, UpstreamNamedLogger {ns['guarded leaf']:.1f}"
        )
    assert resolved == []

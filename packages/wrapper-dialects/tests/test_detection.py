"""Dialect choice: the guess from the host name, probing order, caching, forced and custom dialects (logic with a
scripted driver; detection against real servers is in tests-integration/dialects)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.storage import STORAGE
from aws_wrapper.dialects import (
    AURORA_MYSQL,
    AURORA_PG,
    GLOBAL_AURORA_MYSQL,
    GLOBAL_AURORA_PG,
    MULTI_AZ_MYSQL,
    MULTI_AZ_PG,
    MYSQL,
    PG,
    RDS_MYSQL,
    RDS_PG,
    Check,
    Dialect,
    DialectManager,
    Probe,
    ProbeStep,
    aurora_mysql_on_mariadb,
    guess_dialect,
)
from aws_wrapper.dialects._probe import run_probe
from aws_wrapper.dialects._registry import DialectRegistry

DOMAIN = "xyz123abc456.us-east-1.rds.amazonaws.com"


class ScriptedConn:
    def __init__(self) -> None:
        self.in_tx = False
        self.closed = False


class ScriptedDriver:
    """Answers queries from a table; a query not in the table fails like a PG error inside an implicit
    transaction (the connection is then left in a failed transaction until rolled back)."""

    def __init__(self, engine: str, answers: dict[str, list[tuple[Any, ...]]]) -> None:
        self.engine = engine
        self.code = "psycopg" if engine == "pg" else "mysql-connector-python"
        self.default_port = 5432 if engine == "pg" else 3306
        self.answers = answers
        self.ran: list[str] = []
        self.rollbacks = 0

    def query(
        self, conn: ScriptedConn, sql: str, params: Sequence[object] = (), *, timeout: float | None = None
    ) -> list[tuple[Any, ...]]:
        assert timeout is not None, "probes must run under the auxiliary timeout"
        assert timeout > 0
        self.ran.append(sql)
        if sql not in self.answers:
            conn.in_tx = True
            raise RuntimeError(f"relation does not exist: {sql}")
        return self.answers[sql]

    def is_in_transaction(self, conn: ScriptedConn) -> bool:
        return conn.in_tx

    def is_closed(self, conn: ScriptedConn) -> bool:
        return conn.closed

    def rollback(self, conn: ScriptedConn) -> None:
        self.rollbacks += 1
        conn.in_tx = False


def _driver(engine: str, answers: dict[str, list[tuple[Any, ...]]]) -> Any:
    """A scripted driver, typed loosely so it can stand in for core's ``DriverDialect``."""
    return ScriptedDriver(engine, answers)


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    STORAGE.clear()
    yield
    STORAGE.clear()


def _answers_for(*dialects: Dialect) -> dict[str, list[tuple[Any, ...]]]:
    """Answers under which exactly ``dialects``' probes match (first alternative)."""
    answers: dict[str, list[tuple[Any, ...]]] = {}
    for dialect in dialects:
        for step in dialect.probe.alternatives[0]:
            if step.check is Check.ANY_ROW:
                answers[step.sql] = [(1,)]
            elif step.check is Check.ROW_FLAGS:
                answers[step.sql] = [tuple(v == "true" for v in step.values)]
            elif step.check is Check.GREATER:
                answers[step.sql] = [(int(step.values[0]) + 1,)]
            elif step.check in (Check.CONTAINS, Check.EQUALS):
                answers[step.sql] = [("x", step.values[0])]
            elif step.check is Check.TRUE:
                answers[step.sql] = [(True,)]
            else:
                answers[step.sql] = [("x", "value")] if step.column == 1 else [("value",)]
    return answers


@pytest.mark.parametrize(
    ("host", "engine", "expected", "final"),
    [
        (f"mydb.cluster-{DOMAIN}", "pg", AURORA_PG, False),
        (f"mydb.cluster-ro-{DOMAIN}", "mysql", AURORA_MYSQL, False),
        (f"ep.cluster-custom-{DOMAIN}", "pg", AURORA_PG, False),
        (f"inst-1.{DOMAIN}", "pg", RDS_PG, False),
        (f"px.proxy-{DOMAIN}", "mysql", RDS_MYSQL, False),
        (f"lim.shardgrp-{DOMAIN}", "pg", AURORA_PG, True),
        (f"lim.shardgrp-{DOMAIN}", "mysql", RDS_MYSQL, False),
        ("g.global-xyz123abc456.global.rds.amazonaws.com", "pg", GLOBAL_AURORA_PG, True),
        ("g.global-xyz123abc456.global.rds.amazonaws.com", "mysql", GLOBAL_AURORA_MYSQL, True),
        ("10.0.0.1", "pg", PG, False),
        ("localhost", "mysql", MYSQL, False),
    ],
)
def test_guess_from_host_name(host: str, engine: str, expected: Dialect, final: bool) -> None:
    assert guess_dialect(host, engine) == (expected, final)


@pytest.mark.parametrize(
    ("start", "server", "expected"),
    [
        (PG, (PG, AURORA_PG), AURORA_PG),
        (PG, (PG, RDS_PG), RDS_PG),
        (PG, (MULTI_AZ_PG,), MULTI_AZ_PG),
        (PG, (PG,), PG),
        (RDS_PG, (PG, AURORA_PG), AURORA_PG),
        (AURORA_PG, (GLOBAL_AURORA_PG,), GLOBAL_AURORA_PG),
        (MYSQL, (AURORA_MYSQL,), AURORA_MYSQL),
        (MYSQL, (RDS_MYSQL,), RDS_MYSQL),
        (MYSQL, (MULTI_AZ_MYSQL, RDS_MYSQL), MULTI_AZ_MYSQL),
        (RDS_MYSQL, (MYSQL,), MYSQL),  # a guess from the host name is checked, not trusted
        (AURORA_PG, (PG, RDS_PG), RDS_PG),
        (AURORA_MYSQL, (MYSQL,), MYSQL),
        (AURORA_MYSQL, (AURORA_MYSQL,), AURORA_MYSQL),
    ],
    ids=lambda v: v.code if isinstance(v, Dialect) else None,
)
def test_probing_switches_to_the_first_matching_candidate(
    start: Dialect, server: tuple[Dialect, ...], expected: Dialect
) -> None:
    driver = _driver(start.engine, _answers_for(*server))
    conn = ScriptedConn()
    manager = DialectManager(DialectRegistry(load_entry_points=False))
    props = {"host": "10.0.0.1"}
    assert manager.refine(conn, start, driver, props) is expected
    assert not conn.in_tx, "a probe left a transaction open"
    assert driver.rollbacks >= 1 or all(sql in driver.answers for sql in driver.ran)


def test_first_match_wins_in_documented_order() -> None:
    # a server that answers every Aurora *and* Multi-AZ probe: aurora-pg comes first in pg's list
    driver = _driver("pg", _answers_for(PG, AURORA_PG, MULTI_AZ_PG, RDS_PG))
    manager = DialectManager(DialectRegistry(load_entry_points=False))
    assert manager.refine(ScriptedConn(), PG, driver, {"host": "h"}) is AURORA_PG


def test_detection_is_cached_per_host_and_port() -> None:
    driver = _driver("pg", _answers_for(PG, AURORA_PG))
    manager = DialectManager(DialectRegistry(load_entry_points=False))
    props = {"host": "10.0.0.1", "port": "5432"}
    assert manager.refine(ScriptedConn(), PG, driver, props) is AURORA_PG
    probes = len(driver.ran)
    # a reconnect: the initial guess comes from the cache and refine does not probe again
    dialect = manager.initial(HostInfo("10.0.0.1", 5432), driver, props)
    assert dialect is AURORA_PG
    assert manager.refine(ScriptedConn(), dialect, driver, props) is AURORA_PG
    assert len(driver.ran) == probes
    # another port is another server
    assert manager.initial(HostInfo("10.0.0.1", 5433), driver, {}) is PG


def test_no_probing_inside_a_transaction_or_with_a_forced_dialect() -> None:
    driver = _driver("pg", _answers_for(PG, AURORA_PG))
    manager = DialectManager(DialectRegistry(load_entry_points=False))
    busy = ScriptedConn()
    busy.in_tx = True
    assert manager.refine(busy, PG, driver, {"host": "h"}) is PG
    assert manager.refine(ScriptedConn(), PG, driver, {"host": "h", "wrapper_dialect": "pg"}) is PG
    assert driver.ran == []


def test_forced_dialect_codes() -> None:
    registry = DialectRegistry(load_entry_points=False)
    manager = DialectManager(registry)
    pg_driver = _driver("pg", {})
    host = HostInfo(f"mydb.cluster-{DOMAIN}", 5432)
    assert manager.initial(host, pg_driver, {"wrapper_dialect": "multi-az-pg"}) is MULTI_AZ_PG
    with pytest.raises(
        ConfigurationError, match=r"'nope' for setting 'wrapper_dialect': expected one of .*aurora-pg"
    ):
        manager.initial(host, pg_driver, {"wrapper_dialect": "nope"})
    with pytest.raises(ConfigurationError, match="mysql dialect"):
        manager.initial(host, pg_driver, {"wrapper_dialect": "aurora-mysql"})
    with pytest.raises(ConfigurationError, match="no custom dialect is set"):
        manager.initial(host, pg_driver, {"wrapper_dialect": "custom"})


def test_custom_and_registered_dialects() -> None:
    registry = DialectRegistry(load_entry_points=False)
    manager = DialectManager(registry)
    mysql_driver = _driver("mysql", {})
    local = aurora_mysql_on_mariadb()
    registry.register(local)
    assert registry.get("aurora-mysql-local") is local
    assert (
        manager.initial(HostInfo("10.0.0.1", 3306), mysql_driver, {"wrapper_dialect": "aurora-mysql-local"})
        is local
    )
    assert "aurora_sim.replica_host_status" in local.topology_query
    assert local.is_reader_query == "SELECT @@read_only"
    with pytest.raises(ConfigurationError, match="already registered"):
        registry.register(local.replace(topology_query="x"))
    with pytest.raises(ConfigurationError, match="reserved"):
        registry.register(local.replace(code="custom"))
    custom = MYSQL.replace(code="my-own")
    registry.set_custom(custom)
    assert manager.initial(HostInfo(f"mydb.cluster-{DOMAIN}", 3306), mysql_driver, {}) is custom
    assert manager.initial(HostInfo("h", 3306), mysql_driver, {"wrapper_dialect": "custom"}) is custom
    assert manager.refine(ScriptedConn(), custom, mysql_driver, {"host": "h"}) is custom
    pg_driver = _driver("pg", {})
    assert manager.initial(HostInfo("h", 5432), pg_driver, {}) is PG  # other engine


def test_a_registered_dialect_can_refine_built_ins() -> None:
    registry = DialectRegistry(load_entry_points=False)
    local = aurora_mysql_on_mariadb(auto_detect=True)
    registry.register(local)
    assert registry.candidates(MYSQL)[0] is local
    assert registry.candidates(RDS_MYSQL)[0] is local
    assert registry.candidates(AURORA_MYSQL)[0] is local
    assert local not in registry.candidates(PG)
    assert local not in registry.candidates(MULTI_AZ_MYSQL)
    driver = _driver("mysql", _answers_for(local, AURORA_MYSQL))
    assert DialectManager(registry).refine(ScriptedConn(), MYSQL, driver, {"host": "h"}) is local


def test_probe_rules() -> None:
    step = ProbeStep("q", Check.ROW_FLAGS, 0, ("true", "false"))
    assert step.matches([(True, False)])
    assert step.matches([("t", "f")])
    assert not step.matches([(True, True)])
    assert ProbeStep("q", Check.CONTAINS, 1, ("mariadb",)).matches(
        [("version", "10.11.19-MariaDB-0+deb12u1")]
    )
    assert not ProbeStep("q", Check.EQUALS, 1, ("source distribution",)).matches(
        [("version_comment", "Debian 12")]
    )
    assert ProbeStep("q", Check.NOT_EMPTY, 1).matches([("report_host", "inst-1.example")])
    assert not ProbeStep("q", Check.NOT_EMPTY, 1).matches([("report_host", "")])
    assert not ProbeStep("q", Check.NOT_EMPTY).matches([(None,)])
    assert ProbeStep("q", Check.GREATER, 0, ("1",)).matches([(2,)])
    assert not ProbeStep("q", Check.GREATER, 0, ("1",)).matches([(1,)])
    assert not ProbeStep("q", Check.GREATER, 0, ("1",)).matches([])
    assert not Probe().alternatives


def test_probe_failures_are_swallowed_and_rolled_back() -> None:
    driver = _driver("pg", {})
    conn = ScriptedConn()
    assert not run_probe(AURORA_PG.probe, driver, conn, 1.0, "aurora-pg")
    assert not conn.in_tx
    assert driver.rollbacks == 1
    assert driver.ran == [AURORA_PG.probe.alternatives[0][0].sql]  # stops at the first failing step


def test_rds_mysql_matches_upstream_rule_or_rds_tables() -> None:
    upstream: dict[str, list[tuple[Any, ...]]] = {
        "SHOW VARIABLES LIKE 'version_comment'": [("version_comment", "Source distribution")],
        "SHOW VARIABLES LIKE 'report_host'": [("report_host", "inst-1")],
    }
    assert run_probe(RDS_MYSQL.probe, _driver("mysql", upstream), ScriptedConn(), 1.0)
    mariadb: dict[str, list[tuple[Any, ...]]] = {
        "SHOW VARIABLES LIKE 'version_comment'": [("version_comment", "MariaDB Server")],
        "SHOW VARIABLES LIKE 'report_host'": [("report_host", "inst-1")],
        RDS_MYSQL.probe.alternatives[1][0].sql: [(1,)],
    }
    assert run_probe(RDS_MYSQL.probe, _driver("mysql", mariadb), ScriptedConn(), 1.0)
    plain = {**mariadb, "SHOW VARIABLES LIKE 'report_host'": [("report_host", "")]}
    assert not run_probe(RDS_MYSQL.probe, _driver("mysql", plain), ScriptedConn(), 1.0)


def test_replace_derives_a_dialect() -> None:
    derived = AURORA_MYSQL.replace(code="x", is_reader_query="SELECT @@read_only")
    assert derived.code == "x"
    assert derived.topology_query == AURORA_MYSQL.topology_query
    assert derived.topology_query.endswith("'MASTER_SESSION_ID' ")  # upstream's trailing space kept
    assert AURORA_MYSQL.is_reader_query == "SELECT @@innodb_read_only"

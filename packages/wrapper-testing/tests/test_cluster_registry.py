"""Engines by name, skip reasons, and the default work directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from aws_wrapper.testing import ENGINES, ClusterError, LocalCluster, engine_missing, load_engine
from aws_wrapper.testing._pg import PgEngine
from aws_wrapper.testing._registry import default_work_base, engine_name


def test_names_and_aliases() -> None:
    assert [engine_name(n) for n in ("pg", "postgres", "PostgreSQL", "mysql", "mariadb")] == [
        "pg",
        "pg",
        "pg",
        "mysql",
        "mysql",
    ]
    with pytest.raises(ClusterError, match="unknown engine 'oracle'"):
        engine_name("oracle")
    assert isinstance(load_engine("postgres"), PgEngine)


def test_an_engine_that_cannot_be_imported_gives_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ENGINES, "mysql", ("aws_wrapper.testing._no_such_module", "Nope"))
    reason = engine_missing("mysql")
    assert reason is not None
    assert "engine 'mysql' is not available" in reason


def test_missing_postgres_binaries_give_a_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_WRAPPER_PG_BIN", str(tmp_path))
    reason = engine_missing("pg")
    assert reason is not None
    assert "postgresql server binaries not found" in reason
    with pytest.raises(ClusterError, match="cannot start a 'pg' cluster"):
        LocalCluster("pg").up()


def test_default_work_base(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_WRAPPER_CLUSTER_WORK_DIR", str(tmp_path))
    assert default_work_base() == str(tmp_path)
    monkeypatch.delenv("AWS_WRAPPER_CLUSTER_WORK_DIR")
    assert Path(default_work_base()).is_dir()


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ClusterError, match="1 to 99 instances, got 0"):
        LocalCluster("pg", instances=0)
    with pytest.raises(ClusterError, match="got 100"):
        LocalCluster("pg", instances=100)
    with pytest.raises(ClusterError, match="got 'bad\"name'"):
        LocalCluster("pg", database='bad"name')
    with pytest.raises(ClusterError, match="at least 2 instances, got 1"):
        LocalCluster("pg", instances=1, synchronous=True)
    with pytest.raises(ClusterError, match="retarget_delay"):
        LocalCluster("pg", retarget_delay=-1)
    with pytest.raises(ClusterError, match="instance_ids"):
        LocalCluster("pg", instance_ids="dns")
    with pytest.raises(ValueError, match="'cloud'"):
        LocalCluster("pg", flavour="cloud")
    cluster = LocalCluster("pg")
    assert not cluster.running
    with pytest.raises(ClusterError, match="not up"):
        _ = cluster.writer
    cluster.down()  # never started: nothing to do

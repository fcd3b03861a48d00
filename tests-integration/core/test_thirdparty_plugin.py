"""A plugin from a separate, installed distribution (tests-integration/fixtures/thirdparty-plugin) goes through
the same discovery and validation as the built-in ones."""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from aws_wrapper.core import PLUGIN_ABI, AwsWrapperConnection, DbApiMethod, PluginError, __version__
from aws_wrapper.core.plugins import ExecuteTimePlugin
from aws_wrapper.core.registry import ENTRY_POINT_GROUP, REGISTRY

pytestmark = pytest.mark.integration

DIST = "aws-wrapper-test-thirdparty-plugin"


BROKEN_DIST = "aws-wrapper-test-broken-plugin"


@pytest.fixture(scope="module")
def thirdparty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[importlib.metadata.Distribution]:
    """The installed fixture distribution, plus (for this test process only) a second distribution whose entry
    point fails to import: a dist-info directory on a temporary sys.path entry, found by importlib.metadata like
    any installed distribution."""
    try:
        dist = importlib.metadata.distribution(DIST)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"{DIST} is not installed: pip install -e tests-integration/fixtures/thirdparty-plugin")
    site = tmp_path_factory.mktemp("site")
    info = site / "aws_wrapper_test_broken_plugin-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {BROKEN_DIST}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\ntest_broken_import = aws_wrapper_test_thirdparty.broken:BrokenPluginFactory\n"
    )
    sys.path.append(str(site))
    REGISTRY.reload()
    try:
        yield dist
    finally:
        sys.path.remove(str(site))
        REGISTRY.reload()


def test_the_fixtures_are_installed_distributions(thirdparty: importlib.metadata.Distribution) -> None:
    names = {ep.name for ep in thirdparty.entry_points if ep.group == ENTRY_POINT_GROUP}
    assert names == {"test_counter", "test_wrong_abi"}
    broken = importlib.metadata.distribution(BROKEN_DIST)
    assert {ep.name for ep in broken.entry_points if ep.group == ENTRY_POINT_GROUP} == {"test_broken_import"}
    assert Path(str(broken.locate_file(""))).is_dir()


def test_found_by_its_code_and_alias(thirdparty: importlib.metadata.Distribution) -> None:
    from aws_wrapper_test_thirdparty import CounterPluginFactory

    assert REGISTRY.get("test_counter") is CounterPluginFactory
    assert REGISTRY.get("testCounterAlias") is CounterPluginFactory
    assert REGISTRY.get("TEST-COUNTER") is CounterPluginFactory


def test_runs_in_the_pipeline_on_a_real_connection(
    thirdparty: importlib.metadata.Distribution, pg_dsn: str
) -> None:
    from aws_wrapper_test_thirdparty import CounterPlugin

    conn = AwsWrapperConnection.connect(psycopg.Connection.connect, pg_dsn, plugins="test_counter")
    try:
        counter = conn.plugin(CounterPlugin)
        assert counter is not None
        assert counter.connects == 1
        cur = conn.cursor()
        for value in range(3):
            cur.execute("SELECT %s::int", (value,))
            assert cur.fetchone() == (value,)
        conn.commit()
        assert counter.calls == {
            DbApiMethod.CONNECTION_CURSOR: 1,
            DbApiMethod.CURSOR_EXECUTE: 3,
            DbApiMethod.CURSOR_FETCHONE: 3,
            DbApiMethod.CONNECTION_COMMIT: 1,
        }
        assert counter.context.connection.current_connection is conn.target_connection
    finally:
        conn.close()


def test_import_failure_is_reported_when_requested(thirdparty: importlib.metadata.Distribution) -> None:
    with pytest.raises(PluginError) as info:
        AwsWrapperConnection.connect(
            psycopg.Connection.connect, "host=127.0.0.1", plugins="test_counter,test_broken_import"
        )
    assert str(info.value) == (
        "plugin 'test_broken_import' cannot be used: it failed to import: ImportError: "
        "aws_wrapper_test_thirdparty.broken needs the 'frobnicate' package, which is not installed"
    )


def test_abi_mismatch_names_the_distribution_and_both_versions(
    thirdparty: importlib.metadata.Distribution,
) -> None:
    with pytest.raises(PluginError) as info:
        AwsWrapperConnection.connect(psycopg.Connection.connect, "host=127.0.0.1", plugins="test_wrong_abi")
    assert str(info.value) == (
        f"plugin 'test_wrong_abi' cannot be used: plugin 'test_wrong_abi' from {DIST} {thirdparty.version} needs "
        f"plugin ABI {PLUGIN_ABI[0] + 1}.0, but aws-wrapper-core {__version__} provides "
        f"{PLUGIN_ABI[0]}.{PLUGIN_ABI[1]}; upgrade aws-wrapper-core"
    )


def test_the_other_plugins_still_load(thirdparty: importlib.metadata.Distribution, pg_dsn: str) -> None:
    from aws_wrapper_test_thirdparty import CounterPlugin

    for broken in ("test_broken_import", "test_wrong_abi"):
        with pytest.raises(PluginError):
            REGISTRY.get(broken)
    conn = AwsWrapperConnection.connect(
        psycopg.Connection.connect, pg_dsn, plugins="execute_time,test_counter"
    )
    try:
        assert [type(p) for p in conn._rt.plugins] == [ExecuteTimePlugin, CounterPlugin]
        conn.cursor().execute("SELECT 1")
        counter = conn.plugin(CounterPlugin)
        timing = conn.plugin(ExecuteTimePlugin)
        assert counter is not None
        assert timing is not None
        assert counter.calls[DbApiMethod.CURSOR_EXECUTE] == 1
        assert timing.count(DbApiMethod.CURSOR_EXECUTE) == 1
    finally:
        conn.close()

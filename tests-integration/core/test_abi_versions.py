"""Plugin ABI (major, minor) against the installed fixture distribution aws-wrapper-test-abi-versions
(tests-integration/fixtures/abi-versions): core provides 1.2; plugins declaring 1.0 (``abi = 1``, as written for ABI
1.0), 1.1 and 1.2 load and run on a real PostgreSQL connection, 1.3 and 2.0 are refused naming the distribution, its
version and both ABI versions, and the refused ones do not keep the others from working."""

from __future__ import annotations

import importlib.metadata

import psycopg
import pytest

from aws_wrapper.core import PLUGIN_ABI, AwsWrapperConnection, DbApiMethod, PluginError, __version__
from aws_wrapper.core.registry import ENTRY_POINT_GROUP, REGISTRY

pytestmark = pytest.mark.integration

DIST = "aws-wrapper-test-abi-versions"


@pytest.fixture(scope="module")
def abi_dist() -> importlib.metadata.Distribution:
    try:
        return importlib.metadata.distribution(DIST)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"{DIST} is not installed: pip install -e tests-integration/fixtures/abi-versions")


def test_core_provides_abi_1_2(abi_dist: importlib.metadata.Distribution) -> None:
    assert PLUGIN_ABI == (1, 2)
    names = {ep.name for ep in abi_dist.entry_points if ep.group == ENTRY_POINT_GROUP}
    assert names == {"test_abi_10", "test_abi_11", "test_abi_12", "test_abi_13", "test_abi_20"}


@pytest.mark.parametrize(
    ("code", "abi"), [("test_abi_10", 1), ("test_abi_11", (1, 1)), ("test_abi_12", (1, 2))]
)
def test_a_plugin_built_for_1_0_1_1_or_1_2_loads_and_runs(
    abi_dist: importlib.metadata.Distribution, pg_dsn: str, code: str, abi: object
) -> None:
    from aws_wrapper_test_abi import CountingPlugin

    assert REGISTRY.get(code).abi == abi
    conn = AwsWrapperConnection.connect(psycopg.Connection.connect, pg_dsn, plugins=code)
    try:
        plugin = conn.plugin(CountingPlugin)
        assert plugin is not None
        assert plugin.abi == abi
        cur = conn.cursor()
        for value in range(3):
            cur.execute("SELECT %s::int", (value,))
            assert cur.fetchone() == (value,)
        assert plugin.executes == 3
        assert DbApiMethod.CURSOR_EXECUTE in plugin.subscribed_methods
    finally:
        conn.close()


@pytest.mark.parametrize(("code", "needs"), [("test_abi_13", "1.3"), ("test_abi_20", "2.0")])
def test_a_plugin_needing_1_3_or_2_0_is_refused_naming_the_distribution_and_both_versions(
    abi_dist: importlib.metadata.Distribution, pg_dsn: str, code: str, needs: str
) -> None:
    with pytest.raises(PluginError) as info:
        AwsWrapperConnection.connect(psycopg.Connection.connect, pg_dsn, plugins=code)
    assert str(info.value) == (
        f"plugin {code!r} cannot be used: plugin {code!r} from {DIST} {abi_dist.version} needs plugin ABI {needs}, "
        f"but aws-wrapper-core {__version__} provides 1.2; upgrade aws-wrapper-core"
    )
    assert abi_dist.version == "0.4.0"


def test_refused_plugins_do_not_break_the_others(
    abi_dist: importlib.metadata.Distribution, pg_dsn: str
) -> None:
    from aws_wrapper_test_abi import CountingPlugin

    for code in ("test_abi_13", "test_abi_20"):
        with pytest.raises(PluginError):
            REGISTRY.get(code)
    conn = AwsWrapperConnection.connect(
        psycopg.Connection.connect, pg_dsn, plugins="test_abi_10,execute_time"
    )
    try:
        conn.cursor().execute("SELECT 1")
        plugin = conn.plugin(CountingPlugin)
        assert plugin is not None
        assert plugin.executes == 1
    finally:
        conn.close()

"""Lazy plugin loading, in fresh interpreters against the machine's PostgreSQL: with the fixture distribution
aws-wrapper-test-heavy-plugin installed (tests-integration/fixtures/heavy-plugin: its plugin module imports boto3 at
import time, as an AWS authentication plugin does), ``plugins="failover"`` and the default list never import it nor
boto3, while ``plugins="test_heavy"`` does and works. Its setting is declared in metadata, so it is stripped from the
driver's arguments without the module being imported."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from typing import Any

import pytest

from aws_wrapper.core.registry import REGISTRY

pytestmark = pytest.mark.integration

HEAVY_DIST = "aws-wrapper-test-heavy-plugin"
HEAVY_MODULE = "aws_wrapper_test_heavy"

_CHILD = """
import json, sys
import psycopg
from aws_advanced_python_wrapper import AwsWrapperConnection

kwargs = json.loads(sys.argv[1])
conn = AwsWrapperConnection.connect(psycopg.Connection.connect, sys.argv[2], **kwargs)
cur = conn.cursor()
cur.execute("SELECT 1")
row = cur.fetchone()
plugins = [type(p).__module__ + "." + type(p).__name__ for p in conn._rt.plugins]
heavy = [p for p in conn._rt.plugins if type(p).__name__ == "HeavyPlugin"]
conn.close()
print(json.dumps({
    "row": list(row),
    "plugins": plugins,
    "boto3": "boto3" in sys.modules,
    "heavy_module": "aws_wrapper_test_heavy" in sys.modules,
    "heavy_connects": heavy[0].connects if heavy else None,
    "heavy_region": heavy[0].region if heavy else None,
    "modules": sorted(m for m in sys.modules if m.startswith(("aws_wrapper.", "aws_wrapper_"))),
}))
"""


@pytest.fixture(scope="module")
def heavy() -> importlib.metadata.Distribution:
    try:
        return importlib.metadata.distribution(HEAVY_DIST)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"{HEAVY_DIST} is not installed: pip install -e tests-integration/fixtures/heavy-plugin")


def _connect_in_fresh_interpreter(dsn: str, **kwargs: Any) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(kwargs), dsn],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outcome: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return outcome


def test_the_heavy_plugin_is_installed_beside_the_others(heavy: importlib.metadata.Distribution) -> None:
    groups = {(ep.group, ep.name) for ep in heavy.entry_points}
    assert ("aws_wrapper.plugins", "test_heavy") in groups
    assert ("aws_wrapper.settings", "test_heavy_region") in groups
    assert "test_heavy" not in REGISTRY.default_codes()


def test_plugins_failover_never_imports_boto3(heavy: importlib.metadata.Distribution, pg_dsn: str) -> None:
    outcome = _connect_in_fresh_interpreter(pg_dsn, plugins="failover", test_heavy_region="eu-west-1")
    assert outcome["row"] == [1]
    assert outcome["plugins"] == ["aws_wrapper.failover._failover.FailoverPlugin"]
    assert outcome["boto3"] is False
    assert (
        outcome["heavy_module"] is False
    )  # its setting was stripped from the driver's arguments all the same
    modules = outcome["modules"]
    assert not [m for m in modules if m.startswith(("aws_wrapper.efm", "aws_wrapper.core.plugins"))], modules
    assert not [m for m in modules if m.startswith("aws_wrapper_test_")], modules


def test_the_default_plugins_never_import_boto3(heavy: importlib.metadata.Distribution, pg_dsn: str) -> None:
    outcome = _connect_in_fresh_interpreter(pg_dsn)
    assert outcome["row"] == [1]
    assert [p.rsplit(".", 1)[1] for p in outcome["plugins"]] == [
        "InitialConnectionPlugin",
        "ConnectionTrackerPlugin",
        "FailoverPlugin",
        "HostMonitoringPlugin",
    ]
    assert outcome["boto3"] is False
    assert outcome["heavy_module"] is False
    assert not [m for m in outcome["modules"] if m.startswith("aws_wrapper_test_")], outcome["modules"]


def test_no_plugins_imports_no_plugin_module(heavy: importlib.metadata.Distribution, pg_dsn: str) -> None:
    outcome = _connect_in_fresh_interpreter(pg_dsn, plugins="")
    assert outcome["row"] == [1]
    assert outcome["plugins"] == []
    assert outcome["boto3"] is False
    plugin_modules = (
        "aws_wrapper.failover",
        "aws_wrapper.efm",
        "aws_wrapper.core.plugins",
        "aws_wrapper_test_",
    )
    assert not [m for m in outcome["modules"] if m.startswith(plugin_modules)], outcome["modules"]


def test_plugins_test_heavy_imports_boto3_and_works(
    heavy: importlib.metadata.Distribution, pg_dsn: str
) -> None:
    outcome = _connect_in_fresh_interpreter(pg_dsn, plugins="testHeavyAlias", test_heavy_region="eu-west-1")
    assert outcome["row"] == [1]
    assert outcome["plugins"] == ["aws_wrapper_test_heavy.HeavyPlugin"]
    assert outcome["boto3"] is True
    assert outcome["heavy_connects"] == 1
    assert outcome["heavy_region"] == "eu-west-1"

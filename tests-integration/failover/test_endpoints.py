"""Cluster endpoints whose DNS has not caught up after a failover (RDS-shaped names, resolved in a private mount
namespace by aws-wrapper-testing): ``stale_dns`` and ``initial_connection`` still reach the right role."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from aws_wrapper.testing import LocalCluster, namespace_available

pytestmark = [pytest.mark.integration, pytest.mark.needs_root]

CLIENT = Path(__file__).with_name("_dns_client.py")
LAG = 12.0  # seconds the endpoints keep pointing at their old targets after a failover


def reach(cluster: LocalCluster, dns_name: str, plugins: str) -> dict[str, Any]:
    """Connect through ``dns_name`` from a process in the cluster's DNS namespace."""
    argv = cluster.command([sys.executable, str(CLIENT), dns_name, str(cluster.port), plugins])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def lagging(local_cluster: Any) -> LocalCluster:
    reason = namespace_available()
    if reason is not None:
        pytest.skip(f"dns namespace unavailable: {reason}")
    cluster: LocalCluster = local_cluster("pg", instances=3, instance_ids="name", retarget_delay=LAG)
    return cluster


def test_stale_writer_endpoint(lagging: LocalCluster) -> None:
    writer_dns = lagging.writer_endpoint.dns_name
    old = lagging.writer.instance_id
    assert reach(lagging, writer_dns, "")["instance"] == old
    new = lagging.failover().instance_id  # the old writer is back as a reader; the endpoint still leads to it
    retarget = lagging.last_event("writer_endpoint_retargeted")
    assert retarget is not None

    plain = reach(lagging, writer_dns, "")
    assert plain == {**plain, "instance": old, "writer": False}  # the trap is real
    for plugins in ("stale_dns", "failover", "initial_connection"):
        fixed = reach(lagging, writer_dns, plugins)
        assert fixed["writer"] is True, plugins
        assert fixed["instance"] == new, plugins
    assert time.monotonic() < retarget.t  # all of it happened while the endpoint was stale


def test_stale_reader_endpoint(lagging: LocalCluster) -> None:
    reader_dns = lagging.reader_endpoint.dns_name
    behind_reader = reach(lagging, reader_dns, "")["instance"]
    lagging.failover(behind_reader)  # promote the instance the reader endpoint leads to

    plain = reach(lagging, reader_dns, "")
    assert plain["writer"] is True  # the stale reader endpoint now leads to the writer
    fixed = reach(lagging, reader_dns, "initial_connection")
    assert fixed["writer"] is False
    assert fixed["instance"] != behind_reader

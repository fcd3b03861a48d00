"""Fixtures of the custom endpoint end-to-end tests: a local cluster of 4 instances with the RDS API stand-in for
custom endpoints, and an agent process in the cluster's DNS namespace that makes the wrapper connections (custom
endpoint names resolve only there)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aws_wrapper.testing import LocalCluster, fake_aws_env, fake_aws_environ, namespace_available

pytestmark = pytest.mark.integration

AGENT = Path(__file__).with_name("_agent.py")
REFRESH_MS = 500


class Agent:
    """The child process; ``call(op, **args)`` sends one request and returns the answer."""

    def __init__(self, cluster: LocalCluster, engine: str, rds_url: str) -> None:
        env = fake_aws_environ()
        env["AWS_ENDPOINT_URL_RDS"] = rds_url
        env["PYTHONUNBUFFERED"] = "1"
        self.cluster = cluster
        self.engine = engine
        self.process = subprocess.Popen(
            cluster.command([sys.executable, str(AGENT), engine]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def call(self, op: str, timeout: float = 60.0, **args: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            raise AssertionError(f"the agent did not answer {op!r} within {timeout} s")
        line = self.process.stdout.readline()
        if not line:
            stderr = self.process.stderr.read() if self.process.stderr is not None else ""
            raise AssertionError(f"the agent ended: {stderr[-3000:]}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def connect(self, name: str, endpoint: str, **settings: Any) -> dict[str, Any]:
        answer = self.try_connect(name, endpoint, **settings)
        assert "error" not in answer, answer
        return answer

    def try_connect(self, name: str, endpoint: str, **settings: Any) -> dict[str, Any]:
        """Connect through ``endpoint``; the answer has the instance reached, or the error's type and message."""
        info = self.cluster.conninfo()
        options: dict[str, Any] = {
            "host": endpoint,
            "port": info["port"],
            "user": info["user"],
            "plugins": "custom_endpoint,failover",
            "cluster_instance_host_pattern": "?",
            "connect_timeout": 3,
            "autocommit": True,
            "custom_endpoint_info_refresh_rate_ms": REFRESH_MS,
        }
        if self.engine == "pg":
            options["dbname"] = info["dbname"]
        else:
            options.update(database=info["database"], password="", wrapper_dialect="aurora-mysql-local")
        options.update(settings)
        return self.call("connect", name=name, settings=options)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write('{"op": "exit"}\n')
                self.process.stdin.flush()
                self.process.wait(10)
            except Exception:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture(params=["pg", "mysql"])
def cluster(request: pytest.FixtureRequest) -> LocalCluster:
    """The module's local cluster of one engine (the pg_cluster or mysql_cluster fixture, reset after each test)."""
    found: LocalCluster = request.getfixturevalue(f"{request.param}_cluster")
    return found


@pytest.fixture
def rds(cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A boto3 RDS client of the test process for the cluster's RDS API stand-in (fake credentials)."""
    import boto3

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in fake_aws_env().items():
        monkeypatch.setenv(name, value)
    return boto3.client("rds", endpoint_url=cluster.rds_api().endpoint_url, region_name="us-east-1")


@pytest.fixture
def agent(cluster: LocalCluster) -> Iterator[Agent]:
    reason = namespace_available()
    if reason is not None:
        pytest.skip(f"dns namespace unavailable: {reason}")
    made = Agent(cluster, cluster.engine.name, cluster.rds_api().endpoint_url)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def endpoint_name(cluster: LocalCluster) -> Iterator[str]:
    """A fresh custom endpoint name, deleted after the test (``reset`` keeps custom endpoints)."""
    name = f"ce-{uuid.uuid4().hex[:8]}"
    yield name
    if name in cluster.custom_endpoints:
        cluster.delete_custom_endpoint(name)

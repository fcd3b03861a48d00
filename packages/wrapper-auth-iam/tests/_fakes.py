"""Fakes for the logic tests of the ``iam`` plugin: a boto3-like session and RDS client that count what they do, a
driver dialect and error classifier, a ``proceed`` that plays the server, and a plugin context. Real servers
verify real tokens in tests-integration/iam."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from typing import Any

from aws_wrapper.core._config import CoreConfig
from aws_wrapper.core._pipeline import Pipelines
from aws_wrapper.core._selection import HostSelection
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.monitors import MONITORS
from aws_wrapper.core.services import PluginContext
from aws_wrapper.core.storage import STORAGE

_serial = itertools.count(1)


class LoginError(Exception):
    """What a driver raises when the server refuses the password (classified as a login error)."""


class NetworkError(Exception):
    """What a driver raises when the server cannot be reached (not a login error)."""


class FakeRdsClient:
    """Signs fake tokens (unique per call) and answers DescribeGlobalClusters from ``global_clusters``."""

    def __init__(self, region: str | None = None) -> None:
        self.region = region
        self.signed: list[dict[str, Any]] = []
        self.lookups: list[str] = []
        self.global_clusters: dict[str, list[dict[str, Any]]] = {}
        self.sign_error: BaseException | None = None
        self.sign_gate: threading.Event | None = None  # when set: signing waits for it
        self.closed = False

    def generate_db_auth_token(self, DBHostname: str, Port: int, DBUsername: str, Region: str) -> str:
        if self.sign_gate is not None:
            self.sign_gate.wait(10)
        if self.sign_error is not None:
            raise self.sign_error
        self.signed.append({"host": DBHostname, "port": Port, "user": DBUsername, "region": Region})
        n = next(_serial)
        return (
            f"{DBHostname}:{Port}/?Action=connect&DBUser={DBUsername}&X-Amz-Credential=AKIDFAKE%2F{Region}"
            f"&X-Amz-Signature=SECRETSIGNATURE{n:08d}"
        )

    def describe_global_clusters(self, GlobalClusterIdentifier: str) -> dict[str, Any]:
        self.lookups.append(GlobalClusterIdentifier)
        members = self.global_clusters.get(GlobalClusterIdentifier)
        if members is None:
            return {"GlobalClusters": []}
        return {
            "GlobalClusters": [
                {"GlobalClusterIdentifier": GlobalClusterIdentifier, "GlobalClusterMembers": members}
            ]
        }

    def close(self) -> None:
        self.closed = True


class FakeSession:
    """A boto3 session stand-in: one shared client, records which thread made clients and for which region."""

    def __init__(self, client: FakeRdsClient | None = None, region_name: str | None = "us-east-1") -> None:
        self.shared = client or FakeRdsClient()
        self.region_name = region_name
        self.clients: list[tuple[str, str | None, int]] = []

    def client(self, service: str, region_name: str | None = None, config: Any = None) -> FakeRdsClient:
        self.clients.append((service, region_name, threading.get_ident()))
        return self.shared


class FakeErrors:
    def is_network_error(self, error: BaseException) -> bool:
        return isinstance(error, NetworkError)

    def is_login_error(self, error: BaseException) -> bool:
        return isinstance(error, LoginError)

    def is_read_only_error(self, error: BaseException) -> bool:
        return False


class FakeDriver:
    def __init__(self, code: str = "psycopg", default_port: int = 5432) -> None:
        self.code = code
        self.engine = "pg" if code == "psycopg" else "mysql"
        self.default_port = default_port


class FakeDialects:
    def __init__(self, driver: FakeDriver) -> None:
        self.driver = driver
        self.errors = FakeErrors()
        self.database = None


class FakeServer:
    """Plays ``proceed``: refuses the passwords in ``rejected`` (every password while ``reject_all``) with a
    login error, accepts the others; records every attempt's properties."""

    def __init__(self) -> None:
        self.rejected: set[str] = set()
        self.reject_all = False
        self.attempts: list[dict[str, Any]] = []
        self.error: BaseException | None = None  # raised by the next attempt, whatever the password
        self.lock = threading.Lock()

    def __call__(self, host: HostInfo, props: Mapping[str, Any], initial: bool) -> object:
        with self.lock:
            self.attempts.append(dict(props))
            error, self.error = self.error, None
        if error is not None:
            raise error
        if self.reject_all or props.get("password") in self.rejected:
            raise LoginError(f'FATAL: PAM authentication failed for user "{props.get("user")}"')
        return object()


def make_context(driver: FakeDriver | None = None, **props: Any) -> PluginContext:
    dialects: Any = FakeDialects(driver or FakeDriver())
    service: Any = object()
    return PluginContext(
        props=props,
        config=CoreConfig.parse(props),
        connection=service,
        topology=service,
        connector=service,
        dialects=dialects,
        session_state=service,
        storage=STORAGE,
        monitors=MONITORS,
        selection=HostSelection(lambda: Pipelines(()), lambda: (), props),
    )


def run_threads(n: int, target: Callable[[int], None]) -> list[BaseException]:
    """Run ``target(i)`` on ``n`` threads started together; the exceptions they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def body(i: int) -> None:
        barrier.wait()
        try:
            target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return errors

"""Fixtures of the IAM end-to-end tests: local Aurora clusters of both engines in IAM mode (aws-wrapper-testing),
whose servers verify every IAM token (SigV4 signature, user, host, port, region, expiry) with the cluster's PAM
verifier, and the wrapper's ``iam`` plugin signing tokens with fake static credentials (no network but loopback:
the EC2 metadata service is disabled, and boto3 reads no profile of the machine)."""

from __future__ import annotations

import contextlib
import datetime
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import pytest

from aws_wrapper.auth.iam import GLOBAL_REGIONS, TOKENS, IamAuthPlugin, set_session_factory
from aws_wrapper.core import AwsWrapperConnection, release_resources
from aws_wrapper.core.host_list import AVAILABILITY
from aws_wrapper.testing import LocalCluster, fake_aws_env
from aws_wrapper.testing._aws import AWS_ENV_UNSET

pytestmark = pytest.mark.integration

#: The dialect of the local MariaDB cluster: Aurora MySQL with the topology view in a user schema.
MYSQL_DIALECT = "aurora-mysql-local"
#: What the module clusters are made with (each test module passes these to its cluster markers).
CLUSTER_KWARGS: dict[str, Any] = {"instances": 3, "iam": True}


@pytest.fixture(scope="session", autouse=True)
def _fake_aws() -> Iterator[None]:
    """Fake static credentials for boto3 (the verifier's default key ``testing``), no EC2 metadata, no profiles."""
    mp = pytest.MonkeyPatch()
    try:
        for name in list(os.environ):
            if name in AWS_ENV_UNSET or name.startswith("AWS_ENDPOINT_URL_"):
                mp.delenv(name)
        for name, value in fake_aws_env().items():
            mp.setenv(name, value)
        assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
        yield
    finally:
        mp.undo()


@pytest.fixture(scope="session", autouse=True)
def _local_mysql_dialect() -> None:
    from aws_wrapper.dialects import aurora_mysql_on_mariadb, register_dialect

    register_dialect(aurora_mysql_on_mariadb(code=MYSQL_DIALECT), replace=True)


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    """Every test starts without cached tokens, boto3 clients, monitors or hosts marked down by an earlier one."""
    release_resources()
    set_session_factory(None)
    yield
    release_resources()
    set_session_factory(None)
    AVAILABILITY.clear()
    TOKENS.clear()
    GLOBAL_REGIONS.clear()


@dataclass
class Db:
    """One engine's IAM-mode cluster and how the tests talk to it."""

    engine: str
    cluster: LocalCluster
    made: list[Any] = field(default_factory=list)

    @property
    def is_pg(self) -> bool:
        return self.engine == "pg"

    @property
    def iam(self) -> Any:
        assert self.cluster.iam is not None, "the cluster is not in IAM mode"
        return self.cluster.iam

    @property
    def user(self) -> str:
        return str(self.iam.user)

    @property
    def region(self) -> str:
        return str(self.iam.region)

    @property
    def driver(self) -> Callable[..., Any]:
        if self.is_pg:
            import psycopg

            return psycopg.Connection.connect
        import mysql.connector

        return mysql.connector.connect

    def settings(self, target: Any = None, via: str = "writer", **settings: Any) -> dict[str, Any]:
        """Wrapper keywords for an IAM login through ``via`` (or to ``target``): no password anywhere. The
        cluster's hosts are loopback addresses, so the region is given (``iam_region``)."""
        info = self.cluster.conninfo(target, via=via, iam=True)
        kwargs: dict[str, Any] = {
            "host": info["host"],
            "port": info["port"],
            "user": info["user"],
            "plugins": "iam",
            "iam_region": self.region,
            "cluster_instance_host_pattern": "?",
            "connect_timeout": 5,
            "autocommit": True,
        }
        if self.is_pg:
            kwargs["dbname"] = info["dbname"]
        else:
            kwargs.update(database=info["database"], wrapper_dialect=MYSQL_DIALECT, use_pure=True)
        kwargs.update(settings)
        return kwargs

    def connect(self, target: Any = None, via: str = "writer", **settings: Any) -> AwsWrapperConnection:
        conn = AwsWrapperConnection.connect(self.driver, **self.settings(target, via, **settings))
        self.made.append(conn)
        return conn

    def raw(self, password: str, target: Any = None, user: str | None = None, **extra: Any) -> Any:
        """A plain driver connection (no wrapper) as an IAM user with ``password``; MySQL over TLS with the clear
        password plugin, as the plugin does."""
        info = self.cluster.conninfo(target, iam=True)
        if user is not None:
            info["user"] = user
        if self.is_pg:
            import psycopg

            return psycopg.connect(**info, password=password, connect_timeout=5, **extra)
        import mysql.connector

        return mysql.connector.connect(
            **info, password=password, auth_plugin="mysql_clear_password", use_pure=True, **extra
        )

    def login_error(self) -> type[BaseException]:
        """What the driver raises when the server refuses the login."""
        if self.is_pg:
            import psycopg

            return psycopg.OperationalError
        import mysql.connector

        return mysql.connector.errors.ProgrammingError

    def one(self, conn: Any, sql: str) -> Any:
        cur = conn.cursor()
        try:
            cur.execute(sql)
            row = cur.fetchone()
        finally:
            cur.close()
        return None if row is None else row[0]

    def current_user(self, conn: Any) -> str:
        value = str(self.one(conn, "SELECT current_user" if self.is_pg else "SELECT current_user()"))
        return value.split("@")[0]

    def instance(self, conn: Any) -> str:
        sql = (
            "SELECT pg_catalog.aurora_db_instance_identifier()" if self.is_pg else "SELECT @@aurora_server_id"
        )
        return str(self.one(conn, sql))

    def close_all(self) -> None:
        for conn in self.made:
            with contextlib.suppress(Exception):
                conn.close()
        self.made.clear()


def sign(host: str, port: int, user: str, region: str = "us-east-1", *, age: float = 0.0) -> str:
    """A token signed with the fake static credentials, as if ``age`` seconds ago (botocore's clock patched)."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    )
    client = session.client("rds")
    if not age:
        return str(client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user, Region=region))
    then = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=age)
    with mock.patch("botocore.auth.get_current_datetime", return_value=then):
        return str(client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user, Region=region))


def iam_plugin(conn: AwsWrapperConnection) -> IamAuthPlugin:
    plugin = conn.plugin(IamAuthPlugin)
    assert isinstance(plugin, IamAuthPlugin)
    return plugin


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture(params=["pg", "mysql"])
def db(request: pytest.FixtureRequest) -> Iterator[Db]:
    cluster: LocalCluster = request.getfixturevalue(f"{request.param}_cluster")
    database = Db(request.param, cluster)
    database.iam.clear_log()
    try:
        yield database
    finally:
        database.close_all()

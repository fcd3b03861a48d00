"""Fixtures of the authentication end-to-end tests: moto on loopback for Secrets Manager, and database servers that
really check passwords.

* MariaDB: the machine's server (root without a password); each test creates its own user ``IDENTIFIED BY`` a
  random password and drops it afterwards.
* PostgreSQL: the machine's server trusts every loopback login, so a password would never be checked. The tests use
  their own one-instance local cluster (aws-wrapper-testing) whose ``pg_hba.conf`` starts with a
  ``scram-sha-256`` line for the members of one group role; the cluster's own admin logins stay ``trust``.

boto3 runs with fake credentials (``AWS_EC2_METADATA_DISABLED=true``, no configuration files of the machine) and
talks only to the moto server on 127.0.0.1.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from aws_wrapper.auth.secrets import set_session_factory
from aws_wrapper.core import AwsWrapperConnection, release_resources
from aws_wrapper.core.conninfo import parse_conninfo
from aws_wrapper.testing import LocalCluster, MotoServer, fake_aws_environ

MYSQL_DSN = os.environ.get("AWS_WRAPPER_TEST_MYSQL_DSN", "host=127.0.0.1 port=3306 user=root")
REGION = "us-east-1"
#: The group role whose members PostgreSQL checks with scram-sha-256.
PG_GROUP = "secrets_test_users"


def new_password() -> str:
    """A random password that is easy to grep for."""
    return f"Pw-{secrets.token_hex(8)}"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), 2):
            return True
    except OSError:
        return False


# -- AWS ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def fake_aws() -> Iterator[None]:
    """Fake credentials for every boto3 client of the test process; the machine's AWS settings are hidden."""
    saved = dict(os.environ)
    fake = fake_aws_environ(saved)
    os.environ.clear()
    os.environ.update(fake)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def moto(fake_aws: None) -> Iterator[MotoServer]:
    pytest.importorskip("moto")
    with MotoServer("127.0.0.1", 0) as server:
        yield server


class SecretsAdmin:
    """Creates and rotates secrets in moto (as an operator would, not through the wrapper)."""

    def __init__(self, moto: MotoServer, logs: LogCapture) -> None:
        self.client = moto.client("secretsmanager", REGION)
        self._logs = logs
        self._names: list[str] = []

    def create(self, user: str, password: str) -> tuple[str, str]:
        """A new secret holding ``user`` / ``password``: its name and ARN."""
        import json

        name = f"aws-wrapper-test/{secrets.token_hex(4)}"
        with self._logs.paused():  # the operator's own requests carry the value in their body
            arn = self.client.create_secret(
                Name=name, SecretString=json.dumps({"username": user, "password": password})
            )["ARN"]
        self._names.append(name)
        return name, str(arn)

    def rotate(self, name: str, user: str, password: str) -> None:
        import json

        with self._logs.paused():
            self.client.put_secret_value(
                SecretId=name, SecretString=json.dumps({"username": user, "password": password})
            )

    def delete_all(self) -> None:
        with self._logs.paused():
            for name in self._names:
                self.client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        self._names.clear()


@pytest.fixture
def secrets_admin(moto: MotoServer, logs: LogCapture) -> Iterator[SecretsAdmin]:
    admin = SecretsAdmin(moto, logs)
    yield admin
    admin.delete_all()


class FetchCounter:
    """A session factory (``set_session_factory``) whose clients count their ``GetSecretValue`` calls: the real
    requests that reached Secrets Manager, whatever the plugin's cache did."""

    def __init__(self) -> None:
        self.fetches = 0
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, *, profile: str | None) -> Any:
        import boto3

        counter = self

        class Session:
            def __init__(self) -> None:
                self._session = boto3.session.Session(profile_name=profile)

            def client(self, service_name: str, **kwargs: Any) -> Any:
                return CountingClient(self._session.client(service_name, **kwargs), counter)

        return Session()

    def count(self) -> None:
        with self._lock:
            self.fetches += 1
            self.threads.add(threading.current_thread().name)


class CountingClient:
    def __init__(self, client: Any, counter: FetchCounter) -> None:
        self._client = client
        self._counter = counter

    def get_secret_value(self, **kwargs: Any) -> Any:
        self._counter.count()
        return self._client.get_secret_value(**kwargs)

    def close(self) -> None:
        self._client.close()


@pytest.fixture
def fetches(fake_aws: None) -> Iterator[FetchCounter]:
    """Counts the fetches of this test; the plugin starts with no cached client or secret."""
    release_resources()
    counter = FetchCounter()
    set_session_factory(counter)
    yield counter
    set_session_factory(None)
    release_resources()


# -- logs --------------------------------------------------------------------------------------------------------


class LogCapture(logging.Handler):
    """Every record of every logger, formatted with its arguments and tracebacks; ``paused()`` skips the test's
    own administration (which legitimately sends the passwords)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(threadName)s %(message)s"))
        self.stream = io.StringIO()
        self._paused: set[int] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if threading.get_ident() in self._paused:
            return
        self.stream.write(self.format(record) + "\n")

    @contextmanager
    def paused(self) -> Iterator[None]:
        ident = threading.get_ident()
        self._paused.add(ident)
        try:
            yield
        finally:
            self._paused.discard(ident)

    @property
    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """DEBUG logging for every logger (root at DEBUG, every existing logger's own level cleared) during the test."""
    capture = LogCapture()
    root = logging.getLogger()
    saved = {
        name: lg.level
        for name, lg in logging.root.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    saved_root = root.level
    for name in saved:
        logging.getLogger(name).setLevel(logging.NOTSET)
    root.setLevel(logging.DEBUG)
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(saved_root)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


# -- databases ---------------------------------------------------------------------------------------------------


@dataclass
class Db:
    """A database server that checks passwords, with a user per test."""

    name: str
    connect: Callable[..., Any]
    server: dict[str, Any]
    create_user: Callable[[str, str], None]
    set_password: Callable[[str, str], None]
    drop_user: Callable[[str], None]
    users: list[str] = field(default_factory=list)

    @property
    def is_pg(self) -> bool:
        return self.name == "pg"

    def new_user(self, password: str) -> str:
        user = f"sm_{secrets.token_hex(4)}"
        self.create_user(user, password)
        self.users.append(user)
        return user

    def wrapper(self, **settings: Any) -> AwsWrapperConnection:
        kwargs = {**self.server, "plugins": "aws_secrets_manager", **settings}
        return AwsWrapperConnection.connect(self.connect, **kwargs)

    def current_user(self, conn: Any) -> str:
        cur = conn.cursor()
        cur.execute("SELECT current_user" if self.is_pg else "SELECT CURRENT_USER()")
        row = cur.fetchone()
        cur.close()
        assert row is not None
        return str(row[0]).split("@")[0]

    def is_login_error(self, error: BaseException) -> bool:
        if self.is_pg:
            import psycopg

            return isinstance(error, psycopg.OperationalError) and "password authentication failed" in str(
                error
            )
        import mysql.connector

        return isinstance(error, mysql.connector.Error) and getattr(error, "errno", None) == 1045

    def cleanup(self) -> None:
        for user in self.users:
            self.drop_user(user)
        self.users.clear()


@pytest.fixture(scope="session")
def mysql_admin() -> Iterator[tuple[Any, dict[str, Any]]]:
    props = parse_conninfo(MYSQL_DSN)
    host, port = str(props.get("host", "127.0.0.1")), int(props.get("port", 3306))
    if not _reachable(host, port):
        pytest.skip(f"no MySQL/MariaDB server at {MYSQL_DSN!r} (set AWS_WRAPPER_TEST_MYSQL_DSN)")
    import mysql.connector

    admin: Any = mysql.connector.connect(
        host=host,
        port=port,
        user=props.get("user", "root"),
        password=props.get("password", ""),
        use_pure=True,
        autocommit=True,
    )
    yield admin, {"host": host, "port": port}
    admin.close()


def _mysql_db(name: str, admin: Any, server: dict[str, Any], use_pure: bool) -> Db:
    import mysql.connector

    def run(sql: str, params: tuple[str, ...]) -> None:
        cur = admin.cursor()
        cur.execute(sql, params)
        cur.close()

    return Db(
        name=name,
        connect=mysql.connector.connect,
        server={**server, "use_pure": use_pure},
        create_user=lambda user, pw: run("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, pw)),
        set_password=lambda user, pw: run("ALTER USER %s@'%%' IDENTIFIED BY %s", (user, pw)),
        drop_user=lambda user: run("DROP USER IF EXISTS %s@'%%'", (user,)),
    )


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[LocalCluster]:
    """One PostgreSQL instance whose members of ``PG_GROUP`` log in with scram-sha-256."""
    pytest.importorskip("psycopg")
    cluster = LocalCluster("pg", instances=1, flavour="plain")
    try:
        cluster.up()
    except Exception as exc:  # no server binaries, no postgres OS user, ...
        pytest.skip(f"no local PostgreSQL cluster: {exc}")
    try:
        hba = cluster.writer.data_dir / "pg_hba.conf"
        hba.write_text(f"host all +{PG_GROUP} 127.0.0.0/8 scram-sha-256\n" + hba.read_text())
        cluster.query(cluster.writer, f"CREATE ROLE {PG_GROUP} NOLOGIN")
        cluster.query(cluster.writer, "SELECT pg_reload_conf()")
        yield cluster
    finally:
        cluster.down()


def _pg_db(cluster: LocalCluster) -> Db:
    import psycopg
    from psycopg import sql

    def run(statement: sql.Composed) -> None:
        info = cluster.conninfo()
        with psycopg.connect(**info, autocommit=True) as admin:
            admin.execute(statement)

    info = cluster.conninfo()
    return Db(
        name="pg",
        connect=psycopg.Connection.connect,
        server={"host": info["host"], "port": info["port"], "dbname": info["dbname"]},
        create_user=lambda user, pw: run(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                sql.Identifier(user), sql.Literal(pw), sql.Identifier(PG_GROUP)
            )
        ),
        set_password=lambda user, pw: run(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(user), sql.Literal(pw))
        ),
        drop_user=lambda user: run(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(user))),
    )


@pytest.fixture
def pg_db(pg_cluster: LocalCluster, logs: LogCapture) -> Iterator[Db]:
    db = _pg_db(pg_cluster)
    yield db
    with logs.paused():
        db.cleanup()


@pytest.fixture(params=["pg", "mysql-pure", "mysql-cext"])
def db(request: pytest.FixtureRequest, logs: LogCapture) -> Iterator[Db]:
    """Each password-checking server the wrapper connects to (the MySQL driver pure Python and C extension)."""
    name: str = request.param
    if name == "pg":
        made = _pg_db(request.getfixturevalue("pg_cluster"))
    else:
        admin, server = request.getfixturevalue("mysql_admin")
        if name == "mysql-cext":
            from mysql.connector import HAVE_CEXT

            if not HAVE_CEXT:
                pytest.skip("the C extension of mysql-connector-python does not load here")
        made = _mysql_db(name, admin, server, use_pure=name == "mysql-pure")
    original_create, original_set = made.create_user, made.set_password

    def create_user(user: str, pw: str) -> None:
        with logs.paused():  # the DDL carries the password
            original_create(user, pw)

    def set_password(user: str, pw: str) -> None:
        with logs.paused():
            original_set(user, pw)

    made.create_user, made.set_password = create_user, set_password
    yield made
    with logs.paused():
        made.cleanup()

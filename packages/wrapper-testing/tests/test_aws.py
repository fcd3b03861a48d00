"""The fake AWS environment and the moto server (skipped when moto or boto3 is missing)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from aws_wrapper.testing._aws import AWS_ENV_UNSET, MotoServer, fake_aws_env, fake_aws_environ
from aws_wrapper.testing._fixtures_net import *  # noqa: F403
from aws_wrapper.testing._fixtures_net import apply_fake_aws_env


# -- the environment ----------------------------------------------------------------------------------------------
def test_fake_env_values() -> None:
    env = fake_aws_env()
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    assert not set(env) & set(AWS_ENV_UNSET)


def test_fake_environ_drops_profiles_and_endpoints() -> None:
    base = {
        "PATH": "/bin",
        "AWS_PROFILE": "prod",
        "AWS_SESSION_TOKEN": "t",
        "AWS_ENDPOINT_URL_RDS": "http://x",
        "AWS_ACCESS_KEY_ID": "real",
    }
    env = fake_aws_environ(base)
    assert env["PATH"] == "/bin"
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert not {"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_RDS"} & set(env)
    assert base["AWS_PROFILE"] == "prod"  # the input is not modified


def test_apply_fake_env_is_undone() -> None:
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("AWS_PROFILE", "prod")
        inner = pytest.MonkeyPatch()
        applied = apply_fake_aws_env(inner)
        assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
        assert "AWS_PROFILE" not in os.environ
        assert applied == fake_aws_env()
        inner.undo()
        assert os.environ["AWS_PROFILE"] == "prod"
    finally:
        mp.undo()


def test_aws_env_fixture(aws_env: dict[str, str]) -> None:
    assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert "AWS_PROFILE" not in os.environ
    assert aws_env == fake_aws_env()


def test_importing_the_modules_starts_and_imports_nothing_heavy() -> None:
    code = textwrap.dedent(
        """
        import sys, threading
        import aws_wrapper.testing._aws, aws_wrapper.testing._dns, aws_wrapper.testing._proxy
        import aws_wrapper.testing._fixtures_net
        heavy = sorted(m for m in ("boto3", "botocore", "moto") if m in sys.modules)
        print(heavy, threading.active_count())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "1"]


# -- the moto server ----------------------------------------------------------------------------------------------
def test_session_env_is_fake(moto_server: MotoServer) -> None:
    assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert moto_server.endpoint_url.startswith("http://127.0.0.1:")
    assert moto_server.running


def test_secrets_manager_by_name_and_arn(moto_server: MotoServer) -> None:
    moto_server.reset()
    client = moto_server.client("secretsmanager")
    secret = {"username": "app", "password": "s3cret"}
    arn = client.create_secret(Name="test/db", SecretString=json.dumps(secret))["ARN"]
    assert arn.startswith("arn:aws:secretsmanager:us-east-1:")
    by_name = client.get_secret_value(SecretId="test/db")
    by_arn = client.get_secret_value(SecretId=arn)
    assert json.loads(by_name["SecretString"]) == json.loads(by_arn["SecretString"]) == secret
    assert by_arn["Name"] == "test/db"


def test_sts_identity_and_assume_role(moto_server: MotoServer) -> None:
    sts = moto_server.client("sts")
    identity = sts.get_caller_identity()
    assert identity["Arn"].startswith("arn:aws:sts::")
    assert identity["Account"]
    role_arn = f"arn:aws:iam::{identity['Account']}:role/db-role"
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="session-1")["Credentials"]
    assert all(creds[key] for key in ("AccessKeyId", "SecretAccessKey", "SessionToken"))


def test_rds_cluster_describe(moto_server: MotoServer) -> None:
    moto_server.reset()
    rds = moto_server.client("rds", region="us-east-2")
    rds.create_db_cluster(
        DBClusterIdentifier="c1",
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="password123",
    )
    clusters = rds.describe_db_clusters()["DBClusters"]
    assert [c["DBClusterIdentifier"] for c in clusters] == ["c1"]
    assert clusters[0]["Endpoint"].startswith("c1.cluster-")
    assert clusters[0]["Endpoint"].endswith(".us-east-2.rds.amazonaws.com")
    assert moto_server.client("rds").describe_db_clusters()["DBClusters"] == []  # other region


def test_reset_wipes_state(moto_server: MotoServer) -> None:
    client = moto_server.client("secretsmanager")
    client.create_secret(Name="to-be-wiped", SecretString="x")
    assert client.list_secrets()["SecretList"]
    moto_server.reset()
    assert client.list_secrets()["SecretList"] == []


def test_own_server_starts_and_stops_cleanly() -> None:
    pytest.importorskip("moto")
    server = MotoServer()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.endpoint_url
    with server:
        assert server.port != 0
        log_file = server.log_file
        assert log_file is not None
        assert log_file.exists()
        socket.create_connection((server.host, server.port), timeout=2).close()
        server.reset()
    assert not server.running
    assert not log_file.parent.exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=2)
    server.stop()  # idempotent


def test_bad_address_fails_with_the_log() -> None:
    pytest.importorskip("moto")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = MotoServer(port=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match=r"exited with code"):
            server.start()
    assert not server.running
    assert server.log_file is None

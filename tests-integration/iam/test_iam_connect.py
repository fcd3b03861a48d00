"""IAM logins on local clusters of both engines in IAM mode: the plugin's tokens are accepted by the servers,
tokens for another region, user or port and expired ones are rejected by the servers, cached tokens are reused,
and an expired cached token is replaced transparently."""

from __future__ import annotations

import time

import pytest

from aws_wrapper.auth.iam import TOKENS, TokenKey
from aws_wrapper.core import AwsWrapperConnection
from aws_wrapper.core.monitors import MONITORS
from aws_wrapper.testing import LocalCluster, MotoServer
from aws_wrapper.testing.iam import IamConfig
from aws_wrapper.testing.pytest_plugin import ClusterFactory

from .conftest import CLUSTER_KWARGS, Db, iam_plugin, sign

pytestmark = [
    pytest.mark.integration,
    pytest.mark.pg_cluster(**CLUSTER_KWARGS),
    pytest.mark.mysql_cluster(**CLUSTER_KWARGS),
]


def test_an_iam_login_succeeds_with_a_token_and_no_password(db: Db) -> None:
    conn = db.connect()
    assert db.current_user(conn) == db.user
    assert db.instance(conn) == db.cluster.writer.instance_id
    if not db.is_pg:  # the token travelled over TLS (mysql_clear_password)
        cur = conn.cursor()
        cur.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
        assert str(cur.fetchall()[0][1]).startswith("TLS")
        cur.close()
    # the topology monitor may be logging in to the instances meanwhile (with tokens too): look at the endpoint
    (entry,) = [e for e in db.iam.accepted(db.user) if e["host"] == db.cluster.writer_endpoint.host]
    assert entry["port"] == db.cluster.writer_endpoint.port
    assert entry["instance"] == db.cluster.writer.instance_id
    assert entry["kind"] == "static"
    assert db.iam.rejected() == []
    assert iam_plugin(conn).authenticated >= 1


def test_every_instance_accepts_tokens_signed_for_its_own_address(db: Db) -> None:
    for node in db.cluster.nodes:
        conn = db.connect(node)
        assert db.instance(conn) == node.instance_id
    assert {e["instance"] for e in db.iam.accepted()} == {n.instance_id for n in db.cluster.nodes}
    assert TOKENS.stats().generations == len(db.cluster.nodes)  # one token per host


def test_a_token_for_another_region_is_rejected_by_the_server(db: Db) -> None:
    with pytest.raises(db.login_error()):
        db.connect(iam_region="us-west-2")
    (rejected,) = db.iam.rejected(db.user)
    assert "signed for region 'us-west-2'" in rejected["reason"]
    assert db.iam.accepted() == []
    assert len(TOKENS) == 0  # a token the server refused is not kept


def test_tokens_for_another_user_port_host_or_an_expired_one_are_rejected_by_the_server(db: Db) -> None:
    ep = db.cluster.writer_endpoint
    cases = {
        "another user": sign(ep.host, ep.port, "someone_else"),
        "another port": sign(ep.host, ep.port + 1, db.user),
        "another host": sign("127.0.0.1", ep.port, db.user),
        "expired": sign(ep.host, ep.port, db.user, age=20 * 60),
        "a password": "not-a-token",
        "a forged signature": sign(ep.host, ep.port, db.user)[:-4] + "0000",
    }
    for name, token in cases.items():
        with pytest.raises(db.login_error()):
            db.raw(token).close()
        assert len(db.iam.rejected()) == list(cases).index(name) + 1, name
    reasons = [e["reason"] for e in db.iam.rejected()]
    assert "the token is for DBUser 'someone_else'" in reasons[0]
    assert f"signed for port {ep.port + 1}" in reasons[1]
    assert "host '127.0.0.1'" in reasons[2]
    assert "the token expired" in reasons[3]
    assert "not an RDS auth token" in reasons[4]
    assert "the signature does not match" in reasons[5]
    db.raw(sign(ep.host, ep.port, db.user)).close()  # the same login with a good token
    assert len(db.iam.accepted()) == 1


def test_cached_tokens_are_reused_by_later_connections(db: Db) -> None:
    for _ in range(3):
        db.connect()
    db.close_all()
    MONITORS.stop_all()  # the topology monitor logs in to the instances too (with tokens): let it finish
    log = db.iam.log()
    assert all(e["ok"] for e in log)
    endpoint = [e for e in log if e["host"] == db.cluster.writer_endpoint.host]
    assert len(endpoint) >= 3  # the application's three (and the topology monitor's first, if it used it)
    assert len({e["token_sha256"] for e in endpoint}) == 1  # the very same token for all of them
    # every login -- the application's and the monitor's -- used a cached token after the first for its host
    assert TOKENS.stats().generations == len({e["host"] for e in log}) < len(log)


def test_a_token_older_than_iam_expiration_is_not_reused(db: Db) -> None:
    first = db.connect(iam_expiration=1)
    time.sleep(1.1)
    second = db.connect(iam_expiration=1)
    endpoint = [e for e in db.iam.accepted() if e["host"] == db.cluster.writer_endpoint.host]
    assert len({e["token_sha256"] for e in endpoint}) == 2
    assert iam_plugin(first).generated >= 1
    assert iam_plugin(second).generated >= 1
    assert db.iam.rejected() == []


def test_an_expired_cached_token_is_regenerated_and_the_login_retried_once(db: Db) -> None:
    ep = db.cluster.writer_endpoint
    key = TokenKey(db.user, ep.host, ep.port, db.region)
    stale = sign(ep.host, ep.port, db.user, age=20 * 60)  # expired on the server's clock, young in the cache
    TOKENS.get(key, 600, lambda: stale)
    conn = db.connect()
    assert db.current_user(conn) == db.user
    log = [e for e in db.iam.log() if e["host"] == ep.host]
    assert log[0]["ok"] is False
    assert "the token expired" in log[0]["reason"]
    assert log[1]["ok"] is True  # the retry, with a new token
    assert iam_plugin(conn).generated >= 1
    db.connect()  # the replacement is cached now (the topology monitor may use it meanwhile too)
    later = [e for e in db.iam.log() if e["host"] == ep.host][1:]
    assert len(later) >= 2
    assert {(e["ok"], e["token_sha256"]) for e in later} == {(True, log[1]["token_sha256"])}
    assert len(db.iam.rejected()) == 1  # only the stale token, once


def test_the_cluster_endpoints_are_accepted_by_every_instance(db: Db) -> None:
    conn = db.connect(via="reader")
    assert db.instance(conn) in {n.instance_id for n in db.cluster.readers}
    assert [e for e in db.iam.accepted() if e["host"] == db.cluster.reader_endpoint.host]


@pytest.mark.parametrize("engine", ["pg", "mysql"])
def test_temporary_credentials_from_moto_sts_are_verified(
    engine: str, local_cluster: ClusterFactory, moto_server: MotoServer
) -> None:
    """Tokens signed with STS session credentials (the federated and Okta plugins' case) carry a session token;
    the verifier finds the credentials in moto's state."""
    import boto3

    from aws_wrapper.auth.iam import set_session_factory

    cluster = local_cluster(engine, instances=1, iam=IamConfig(moto_url=moto_server.endpoint_url))
    sts = moto_server.client("sts")
    creds = sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/db", RoleSessionName="iam-test")[
        "Credentials"
    ]
    session = boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )
    set_session_factory(lambda **_: session)
    db = Db(engine, cluster)
    try:
        conn = db.connect()
        assert db.current_user(conn) == db.user
        entry = db.iam.accepted()[0]
        assert entry["kind"] == "sts"
        assert entry["key_id"] == creds["AccessKeyId"]
        # the same key id with a made-up session token is refused
        forged = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token="forged",
            region_name="us-east-1",
        )
        ep = cluster.writer_endpoint
        token = forged.client("rds").generate_db_auth_token(
            DBHostname=ep.host, Port=ep.port, DBUsername=db.user, Region="us-east-1"
        )
        with pytest.raises(db.login_error()):
            db.raw(token)
        assert [e["reason"] for e in db.iam.rejected()] == [
            f"the session token does not belong to access key {creds['AccessKeyId']!r}"
        ]
    finally:
        db.close_all()


def test_the_wrapper_refuses_mysql_without_tls_with_the_fix_named(mysql_cluster: LocalCluster) -> None:
    from aws_wrapper.core.errors import ConfigurationError

    db = Db("mysql", mysql_cluster)
    with pytest.raises(ConfigurationError, match="IAM authentication to MySQL needs TLS"):
        AwsWrapperConnection.connect(db.driver, **db.settings(ssl_disabled=True))


def test_a_stopped_cluster_leaves_no_pam_service_behind() -> None:
    from aws_wrapper.testing.iam import iam_missing

    reason = iam_missing("pg")
    if reason is not None:
        pytest.skip(f"IAM mode unavailable: {reason}")
    with LocalCluster("pg", instances=1, iam=True) as cluster:
        assert cluster.iam is not None
        pam_file = cluster.iam.pam_file
        assert pam_file.read_text().startswith("# written by aws-wrapper-testing")
        footprint = cluster.footprint
    assert not pam_file.exists()
    assert footprint().leftovers() == []

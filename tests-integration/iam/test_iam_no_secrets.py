"""Tokens are credentials: with DEBUG logging on every logger (the wrapper's, botocore's, the drivers'), no token
the plugin generated -- nor its signature -- appears in a log record, an exception text, a traceback or a repr,
nor in the servers' own logs, on both engines, through new, cached, rejected and regenerated tokens."""

from __future__ import annotations

import io
import logging
import traceback
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from aws_wrapper.auth.iam import TOKENS, TokenKey, _aws

from .conftest import CLUSTER_KWARGS, Db, iam_plugin, sign

pytestmark = [
    pytest.mark.integration,
    pytest.mark.pg_cluster(**CLUSTER_KWARGS),
    pytest.mark.mysql_cluster(**CLUSTER_KWARGS),
]


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Every logger at DEBUG, every record formatted (message and arguments) into one buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    saved = {
        name: lg.level
        for name, lg in logging.root.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    saved_root = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in (*saved, "botocore", "boto3", "urllib3", "psycopg", "mysql.connector", "aws_wrapper"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_root)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture
def generated(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token the plugin signs."""
    tokens: list[str] = []
    real = _aws.sign

    def recording(client: Any, key: TokenKey, profile: str | None = None) -> str:
        token = real(client, key, profile)
        tokens.append(token)
        return token

    monkeypatch.setattr(_aws, "sign", recording)
    return tokens


def _secrets(token: str) -> list[str]:
    query = parse_qs(token.split("?", 1)[1])
    return [token, token.split("?", 1)[1], query["X-Amz-Signature"][0]]


def test_no_token_in_logs_errors_or_reprs(db: Db, debug_log: io.StringIO, generated: list[str]) -> None:
    texts: list[str] = []
    conn = db.connect()  # a new token
    again = db.connect()  # the cached one
    texts += [repr(conn), str(conn), repr(iam_plugin(conn)), repr(TOKENS)]
    ep = db.cluster.writer_endpoint
    with _aws.signing():  # the test's own signing: botocore's records of it redacted too
        stale = sign(ep.host, ep.port, db.user, age=20 * 60)
    TOKENS.discard(TokenKey(db.user, ep.host, ep.port, db.region))
    TOKENS.get(TokenKey(db.user, ep.host, ep.port, db.region), 600, lambda: stale)
    db.connect()  # the stale cached token is rejected, a new one generated and the login retried
    for settings in ({"iam_region": "eu-west-1"}, {"user": "someone_else"}):
        with pytest.raises(Exception) as info:
            db.connect(**settings)  # rejected by the server: the driver's own error
        texts += [str(info.value), repr(info.value), "".join(traceback.format_exception(info.value))]
    if not db.is_pg:
        with pytest.raises(Exception) as info:
            db.connect(ssl_disabled=True)
        texts += [str(info.value), repr(info.value), "".join(traceback.format_exception(info.value))]
    conn.close()
    again.close()

    assert len(generated) >= 3
    secrets = [s for token in [*generated, stale] for s in _secrets(token)]
    logged = debug_log.getvalue()
    assert "aws_wrapper.auth.iam" in logged  # the plugin did log (at DEBUG and INFO)
    assert "rejected the cached token" in logged
    assert _aws.REDACTED in logged  # botocore's signer logged too, redacted
    server_logs = [n.log_file.read_text(errors="replace") for n in db.cluster.nodes if n.log_file is not None]
    verifier_log = db.iam.log_file.read_text()
    for secret in secrets:
        assert secret not in logged
        assert secret not in verifier_log
        for text in (*texts, *server_logs):
            assert secret not in text
    print(
        f"\n{db.engine}: {len(generated) + 1} tokens, {len(logged.splitlines())} DEBUG log lines, "
        f"{len(texts)} error texts / reprs, {len(server_logs)} server logs and the verifier's log: no token"
    )

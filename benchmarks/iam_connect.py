"""IAM authentication: what a connect costs with a cached token, with a cold cache, and without IAM.

First, the plugin's own client-side cost with a cached token: the machine's PostgreSQL (``trust`` on loopback)
with ``plugins="iam"`` vs ``plugins=""``, interleaved (target: <= +1 ms per connect). Then, on a one-instance
local cluster in IAM mode (aws-wrapper-testing) per engine, every figure the median of
``--runs`` (default 15, at least 10) connects through the writer endpoint, each connection closed before the next:

* ``trust`` / ``native``: the wrapper (``plugins=""``) as the cluster's client account (PostgreSQL: ``trust``;
  MariaDB: native password, with TLS as the server offers it, and without TLS for reference);
* ``iam, cached token``: the wrapper with ``plugins="iam"`` as the IAM user, the token from the cache (the server
  verifies it: PAM and the cluster's SigV4 verifier, in a helper process on MariaDB);
* ``iam, cold``: the same after ``release_resources()`` and a dropped boto3 session: the first connect of a process
  (boto3 already imported), i.e. session and client creation plus token generation plus the login;
* the client-side parts alone: creating the boto3 session and RDS client, and generating one token.

The server side of an IAM login (PAM, the verifier in ``/usr/bin/python3``) dominates here and says little about
RDS, whose IAM logins cost what its own verification costs; the client-side figures are the wrapper's share.
Needs root (IAM mode writes a PAM service) and libpam-python (installed when missing).

Options: ``--runs=N``, ``--engines=pg,mysql``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

MIN_RUNS = 10


def _option(argv: list[str], name: str, default: str) -> str:
    for arg in argv:
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return default


def _median_ms(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=4) if len(samples) >= 4 else [min(samples), 0, max(samples)]
    return f"{statistics.median(samples) * 1000:7.1f} ms  (IQR {q[0] * 1000:.1f}-{q[2] * 1000:.1f}, n={len(samples)})"


def _time(fn: Callable[[], Any], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
        close = getattr(result, "close", None)
        if callable(close):
            close()
    return samples


def _engine(name: str, runs: int) -> None:
    from aws_wrapper.auth.iam import TOKENS, set_session_factory
    from aws_wrapper.auth.iam import _aws as iam_aws
    from aws_wrapper.auth.iam._tokens import TokenKey
    from aws_wrapper.core import AwsWrapperConnection, release_resources
    from aws_wrapper.testing import LocalCluster

    if name == "pg":
        import psycopg

        driver: Callable[..., Any] = psycopg.Connection.connect
    else:
        import mysql.connector

        driver = mysql.connector.connect
    with LocalCluster(name, instances=1, iam=True) as cluster:
        iam = cluster.iam
        assert iam is not None
        plain = cluster.conninfo()
        token_login = cluster.conninfo(iam=True)
        common: dict[str, Any] = {"connect_timeout": 5, "autocommit": True}
        if name == "mysql":
            common.update(use_pure=True, wrapper_dialect="mysql")
        else:
            common.update(wrapper_dialect="pg")

        def trust(**extra: Any) -> Any:
            return AwsWrapperConnection.connect(driver, **plain, plugins="", **common, **extra)

        def with_iam() -> Any:
            return AwsWrapperConnection.connect(
                driver, **token_login, plugins="iam", iam_region=iam.region, **common
            )

        def cold() -> Any:
            release_resources()  # tokens and boto3 clients gone
            set_session_factory(None)
            return with_iam()

        with_iam().close()  # warm: the cache holds a token, the driver and the server are warmed up
        trust().close()
        label = "trust" if name == "pg" else "native password, TLS"
        baseline = _time(trust, runs)
        rows = [(f"{name}: {label} (plugins='')", baseline)]
        if name == "mysql":
            no_tls = _time(lambda: trust(ssl_disabled=True), runs)
            rows.append((f"{name}: native password, no TLS (plugins='')", no_tls))
        generated_before = TOKENS.stats().generations
        cached = _time(with_iam, runs)
        rows.append((f"{name}: iam, cached token", cached))
        assert TOKENS.stats().generations == generated_before, "a cached-token run generated tokens"
        rows.append((f"{name}: iam, cold (client + token + login)", _time(cold, runs)))

        def client() -> Any:
            iam_aws.release()
            return iam_aws.signer(None, iam.region)

        rows.append((f"{name}: boto3 session + RDS client creation", _time(client, runs)))
        signer = iam_aws.signer(None, iam.region)
        key = TokenKey(token_login["user"], token_login["host"], token_login["port"], iam.region)
        rows.append((f"{name}: token generation (signing)", _time(lambda: iam_aws.sign(signer, key), runs)))
        rejected = len(iam.rejected())
        for title, samples in rows:
            print(f"  {title:<52} {_median_ms(samples)}")
        trust_ms = statistics.median(baseline) * 1000
        cached_ms = statistics.median(cached) * 1000
        print(f"  {name}: an IAM login (cached token) costs {cached_ms - trust_ms:+.1f} ms over {label}")
        print(f"  {name}: verifier decisions {len(iam.log())}, rejected {rejected}")
        release_resources()


def _client_overhead(runs: int) -> None:
    """What the plugin itself adds to a connect once its token is cached: the machine's PostgreSQL (``trust``
    on loopback, so the token sent as the password is not verified) through the wrapper with ``plugins="iam"``
    vs ``plugins=""``, interleaved one by one, with the difference per pair."""
    import psycopg

    from aws_wrapper.core import AwsWrapperConnection

    dsn = os.environ.get("AWS_WRAPPER_TEST_PG_DSN", "host=127.0.0.1 port=5432 dbname=postgres user=postgres")

    def plain() -> Any:
        return AwsWrapperConnection.connect(psycopg.Connection.connect, dsn, plugins="", wrapper_dialect="pg")

    def with_iam() -> Any:
        return AwsWrapperConnection.connect(
            psycopg.Connection.connect, dsn, plugins="iam", iam_region="us-east-1", wrapper_dialect="pg"
        )

    try:
        with_iam().close()  # the token is cached from here on
        plain().close()
    except Exception as error:
        print(f"  client-side overhead: skipped ({type(error).__name__}: {error})")
        return
    base: list[float] = []
    iam: list[float] = []
    for index in range(2 * runs):
        first, second = (plain, with_iam) if index % 2 else (with_iam, plain)
        for fn in (first, second):
            start = time.perf_counter()
            fn().close()
            (iam if fn is with_iam else base).append(time.perf_counter() - start)
    extra = [a - b for a, b in zip(iam, base)]
    q = statistics.quantiles(extra, n=4)
    print(
        f"  client side, cached token, on a trust server: plugins='iam' {_median_ms(iam)} vs plugins='' "
        f"{_median_ms(base)}: {statistics.median(extra) * 1000:+.2f} ms per connect "
        f"(IQR {q[0] * 1000:+.2f} to {q[2] * 1000:+.2f}; target <= +1 ms)"
    )


def main(argv: list[str]) -> int:
    runs = max(MIN_RUNS, int(_option(argv, "runs", "15")))
    engines = [e for e in _option(argv, "engines", "pg,mysql").split(",") if e]
    from aws_wrapper.testing import fake_aws_env
    from aws_wrapper.testing._aws import AWS_ENV_UNSET

    for name in list(os.environ):
        if name in AWS_ENV_UNSET or name.startswith("AWS_ENDPOINT_URL_"):
            del os.environ[name]
    os.environ.update(fake_aws_env())  # the cluster's verifier knows the fake 'testing' key; no EC2 metadata
    status = 0
    print(f"IAM connect times, medians of {runs} (each connection closed before the next)")
    _client_overhead(runs)
    for name in engines:
        try:
            _engine(name, runs)
        except Exception as error:
            print(f"  {name}: skipped ({type(error).__name__}: {error})")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

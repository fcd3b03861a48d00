"""IAM mode of the local cluster without servers: the configuration, the token verifier (real boto3 tokens,
every rejection reason, moto's STS credentials over HTTP, the PAM entry points), the files a cluster writes, the
CLI options and the pytest skip. Real servers verify tokens in tests-integration/iam."""

from __future__ import annotations

import ast
import json
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from aws_wrapper.testing import ClusterError, Node, iam
from aws_wrapper.testing import _iam_verifier as verifier
from aws_wrapper.testing.cli import _parser, up_config
from aws_wrapper.testing.iam import IamConfig, IamSetup

HOST = "127.101.7.10"
PORT = 5432


def _sign(
    host: str = HOST,
    port: int = PORT,
    user: str = "iam_user",
    region: str = "us-east-1",
    *,
    key: str = "testing",
    secret: str = "testing",
    session_token: str | None = None,
    age: float = 0.0,
) -> str:
    boto3 = pytest.importorskip("boto3")
    session = boto3.session.Session(
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=session_token,
        region_name=region,
    )
    client = session.client("rds")
    if not age:
        return str(client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user, Region=region))
    import datetime
    from unittest import mock

    then = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=age)
    with mock.patch("botocore.auth.get_current_datetime", return_value=then):
        return str(client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user, Region=region))


def _config(tmp_path: Path, **changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "region": "us-east-1",
        "port": PORT,
        "keys": {"testing": "testing"},
        "moto_url": None,
        "max_skew": 300,
        "cluster_hosts": [HOST, "mydb.cluster-xyz123abc456.us-east-1.rds.amazonaws.com"],
        "instances": [
            {"id": "127.101.7.11", "data_dir": str(tmp_path / "n1" / "data"), "hosts": ["127.101.7.11"]},
            {"id": "127.101.7.12", "data_dir": str(tmp_path / "n2" / "data"), "hosts": ["127.101.7.12"]},
        ],
        "log": str(tmp_path / "verifier.log"),
    }
    config.update(changes)
    return config


# -- configuration ------------------------------------------------------------------------------------------------


def test_iam_config_defaults_and_coercion() -> None:
    config = IamConfig()
    assert config.users == ("iam_user",)
    assert dict(config.access_keys) == {"testing": "testing"}  # fake_aws_env()'s keys
    assert IamConfig.coerce(True) == config
    assert IamConfig.coerce(False) is None
    assert IamConfig.coerce(None) is None
    assert IamConfig.coerce(config) is config
    assert IamConfig.coerce({"users": ["a", "b"], "region": "eu-west-1"}) == IamConfig(
        users=("a", "b"), region="eu-west-1"
    )
    assert IamConfig(users="solo").users == ("solo",)  # type: ignore[arg-type]
    with pytest.raises(ClusterError, match="invalid iam configuration"):
        IamConfig.coerce({"userz": ["a"]})
    with pytest.raises(ClusterError, match="must match"):
        IamConfig(users=("bad-name",))
    with pytest.raises(ClusterError, match="at least one"):
        IamConfig(users=())
    with pytest.raises(ClusterError, match="iam must be True"):
        IamConfig.coerce("yes")  # type: ignore[arg-type]


def test_secret_keys_stay_out_of_the_repr() -> None:
    text = repr(IamConfig(access_keys={"AKIDEXAMPLE": "very-secret-key"}))
    assert "very-secret-key" not in text
    assert "AKIDEXAMPLE" in text


@pytest.mark.parametrize(
    ("domain", "region"),
    [
        ("xyz123abc456.us-east-1.rds.amazonaws.com", "us-east-1"),
        ("abc.eu-central-2.rds.amazonaws.com", "eu-central-2"),
        ("example.test", "us-east-1"),
    ],
)
def test_the_region_comes_from_the_domain(domain: str, region: str) -> None:
    assert IamConfig().region_for(domain) == region
    assert IamConfig(region="ap-south-1").region_for(domain) == "ap-south-1"


# -- the verifier ---------------------------------------------------------------------------------------------


def test_the_verifier_uses_the_standard_library_only() -> None:
    tree = ast.parse(Path(verifier.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
    assert (
        "datetime" not in imported
    )  # _datetime does not survive the embedded interpreter's re-initialisation


def test_a_good_token_is_accepted_on_the_instance_and_through_the_endpoints(tmp_path: Path) -> None:
    config = _config(tmp_path)
    n1 = verifier.instance_of(config, str(tmp_path / "n1" / "data"))
    assert n1 is not None
    assert n1["id"] == "127.101.7.11"
    info = verifier.verify(config, "iam_user", _sign(), n1)
    assert info == {"host": HOST, "port": PORT, "key_id": "testing", "kind": "static"}
    verifier.verify(config, "iam_user", _sign(host="127.101.7.11"), n1)
    dns = "mydb.cluster-xyz123abc456.us-east-1.rds.amazonaws.com"
    assert verifier.verify(config, "iam_user", _sign(host=dns.upper() + "."), n1)["host"] == dns
    verifier.verify(config, "odd user+name@x", _sign(user="odd user+name@x"), n1)


@pytest.mark.parametrize(
    ("login", "token_args", "reason"),
    [
        ("other", {}, "the token is for DBUser 'iam_user', the login is for 'other'"),
        ("iam_user", {"region": "us-west-2"}, "signed for region 'us-west-2', the cluster is in 'us-east-1'"),
        ("iam_user", {"port": 5433}, "signed for port 5433, the cluster listens on 5432"),
        ("iam_user", {"host": "127.101.7.12"}, "host '127.101.7.12', which is not a name of this instance"),
        ("iam_user", {"host": "localhost"}, "host 'localhost'"),
        ("iam_user", {"age": 901}, "the token expired"),
        ("iam_user", {"age": -400}, "in the future"),
        ("iam_user", {"key": "AKIDUNKNOWN"}, "unknown access key id 'AKIDUNKNOWN'"),
        ("iam_user", {"secret": "wrong"}, "the signature does not match"),
        ("iam_user", {"session_token": "extra"}, "the session token does not belong to access key 'testing'"),
    ],
)
def test_every_bad_token_is_rejected_with_its_reason(
    tmp_path: Path, login: str, token_args: dict[str, Any], reason: str
) -> None:
    config = _config(tmp_path)
    n1 = verifier.instance_of(config, str(tmp_path / "n1" / "data"))
    token = _sign(**token_args)
    with pytest.raises(verifier.Rejected) as info:
        verifier.verify(config, login, token, n1)
    assert reason in str(info.value)
    assert token not in str(info.value)


@pytest.mark.parametrize(
    "token",
    [
        "password",
        "host:5432/?Action=connect",
        "host/?Action=connect&X-Amz-Signature=00",
        f"{HOST}:{PORT}/?Action=connect&X-Amz-Credential=a%2Fb&X-Amz-Signature=00",
    ],
)
def test_malformed_tokens_are_rejected(tmp_path: Path, token: str) -> None:
    with pytest.raises(verifier.Rejected):
        verifier.verify(_config(tmp_path), "iam_user", token, None)


def test_tampering_with_any_signed_parameter_breaks_the_signature(tmp_path: Path) -> None:
    config = _config(tmp_path)
    token = _sign()
    tampered = token.replace("X-Amz-Expires=900", "X-Amz-Expires=899")
    with pytest.raises(verifier.Rejected, match="the signature does not match"):
        verifier.verify(config, "iam_user", tampered, None)


class _MotoState(BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self) -> None:
        if self.path != "/moto-api/data.json":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def moto_state() -> Iterator[tuple[str, type[_MotoState]]]:
    handler = type("Handler", (_MotoState,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_sts_credentials_are_read_from_moto(tmp_path: Path, moto_state: tuple[str, type[_MotoState]]) -> None:
    url, handler = moto_state
    handler.body = json.dumps(
        {
            "sts": {
                "us-east-1": {
                    "AssumedRole": [
                        {
                            "access_key_id": "ASIAMOTO",
                            "secret_access_key": "moto-secret",
                            "session_token": "FQoG",
                        }
                    ]
                }
            }
        }
    ).encode()
    config = _config(tmp_path, moto_url=url)
    token = _sign(key="ASIAMOTO", secret="moto-secret", session_token="FQoG")
    assert verifier.verify(config, "iam_user", token, None)["kind"] == "sts"
    with pytest.raises(verifier.Rejected, match="session token does not belong"):
        verifier.verify(
            config, "iam_user", _sign(key="ASIAMOTO", secret="moto-secret", session_token="x"), None
        )
    with pytest.raises(verifier.Rejected, match="unknown access key id 'ASIAOTHER'"):
        verifier.verify(config, "iam_user", _sign(key="ASIAOTHER", secret="s", session_token="t"), None)
    with pytest.raises(verifier.Rejected, match="cannot ask moto"):
        verifier.verify(
            _config(tmp_path, moto_url="http://127.0.0.1:9"), "iam_user", _sign(key="ASIAX"), None
        )


def test_authenticate_logs_one_line_per_login_without_the_token(tmp_path: Path) -> None:
    config = _config(tmp_path)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    good, bad = _sign(), _sign(region="eu-west-1")
    assert verifier.authenticate(str(path), "iam_user", good, str(tmp_path / "n1" / "data")) == (
        True,
        "accepted",
    )
    ok, reason = verifier.authenticate(str(path), "iam_user", bad, str(tmp_path / "n2" / "data"))
    assert not ok
    assert "region 'eu-west-1'" in reason
    assert verifier.authenticate(str(tmp_path / "missing.json"), "iam_user", good, "/")[0] is False
    text = Path(config["log"]).read_text()
    assert good not in text
    assert bad not in text
    entries = [json.loads(line) for line in text.splitlines()]
    assert [(e["ok"], e["instance"], e["host"]) for e in entries] == [
        (True, "127.101.7.11", HOST),
        (False, "127.101.7.12", HOST),
    ]
    assert all(len(e["token_sha256"]) == 16 for e in entries)


class _Pam:
    PAM_SUCCESS, PAM_AUTH_ERR, PAM_USER_UNKNOWN, PAM_PROMPT_ECHO_OFF = 0, 7, 10, 1

    class Message:
        def __init__(self, style: int, text: str) -> None:
            self.style, self.text = style, text

    class Response:
        def __init__(self, resp: str) -> None:
            self.resp = resp

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.prompts: list[Any] = []

    def get_user(self, prompt: Any) -> str:
        return self.user

    def conversation(self, message: Any) -> Any:
        self.prompts.append(message)
        return _Pam.Response(self.password)


def test_the_pam_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(tmp_path)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    (tmp_path / "n1" / "data").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "n1" / "data")  # a server's working directory is its data directory
    pamh = _Pam("iam_user", _sign(host="127.101.7.11"))
    assert verifier.pam_sm_authenticate(pamh, 0, ["verifier.py", str(path)]) == _Pam.PAM_SUCCESS
    assert pamh.prompts[0].style == _Pam.PAM_PROMPT_ECHO_OFF
    assert verifier.pam_sm_authenticate(_Pam("iam_user", "secret"), 0, ["v", str(path)]) == _Pam.PAM_AUTH_ERR
    assert verifier.pam_sm_authenticate(_Pam("", "x"), 0, ["v", str(path)]) == _Pam.PAM_USER_UNKNOWN
    assert verifier.pam_sm_setcred(pamh, 0, []) == verifier.pam_sm_acct_mgmt(pamh, 0, []) == _Pam.PAM_SUCCESS


def test_the_verifier_runs_by_hand_with_the_system_python(tmp_path: Path) -> None:
    import subprocess

    config = _config(tmp_path)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    python = iam.SYSTEM_PYTHON if Path(iam.SYSTEM_PYTHON).exists() else sys.executable
    done = subprocess.run(
        [python, verifier.__file__, str(path), "iam_user", _sign(), "/"], capture_output=True, text=True
    )
    assert (done.returncode, done.stdout.strip()) == (0, "accepted: accepted")


# -- the cluster's files --------------------------------------------------------------------------------------


def _node(tmp_path: Path, index: int) -> Node:
    node = Node(
        index=index,
        instance_id=f"127.101.7.{10 + index}",
        server_host=f"127.101.7.{110 + index}",
        port=PORT,
        data_dir=tmp_path / f"n{index}" / "data",
        server_id=index,
        advertised_host=f"127.101.7.{10 + index}",
        advertised_port=PORT,
    )
    node.extra.update(
        dns_name=f"instance-{index}.xyz.us-east-1.rds.amazonaws.com",
        proxy_host=f"127.101.7.{10 + index}",
        endpoint=f"127.101.7.{10 + index}.xyz.us-east-1.rds.amazonaws.com",
    )
    return node


def test_a_cluster_writes_and_removes_its_iam_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pam_dir = tmp_path / "pam.d"
    pam_dir.mkdir()
    monkeypatch.setattr(iam, "PAM_DIR", pam_dir)
    monkeypatch.setattr(iam, "find_pam_python", lambda: Path("/lib/security/pam_python.so"))
    setup = IamSetup(
        IamConfig(users=("app", "report")),
        tmp_path / "work",
        "127.101.7",
        PORT,
        "pg",
        "x.eu-west-3.rds.amazonaws.com",
    )
    assert setup.service == "aws-wrapper-iam-127-101-7"
    assert setup.region == "eu-west-3"
    assert setup.node_extra() == {iam.EXTRA_SERVICE: setup.service, iam.EXTRA_USERS: "app,report"}
    nodes = [_node(tmp_path, 1), _node(tmp_path, 2)]
    setup.prepare([HOST, "mydb.cluster-xyz.us-east-1.rds.amazonaws.com"], nodes)
    pam = (pam_dir / setup.service).read_text()
    assert f"auth required /lib/security/pam_python.so {setup.verifier} {setup.config_file}" in pam
    assert "account required pam_permit.so" in pam
    assert setup.verifier.read_text() == Path(verifier.__file__).read_text()
    document = json.loads(setup.config_file.read_text())
    assert document["region"] == "eu-west-3"
    assert document["port"] == PORT
    assert document["instances"][0] == {
        "id": "127.101.7.11",
        "data_dir": str(nodes[0].data_dir),
        "hosts": sorted(
            {
                "127.101.7.11",
                "127.101.7.111",
                "instance-1.xyz.us-east-1.rds.amazonaws.com",
                "127.101.7.11.xyz.us-east-1.rds.amazonaws.com",
            }
        ),
    }
    setup.set_instances(nodes[:1])
    assert len(json.loads(setup.config_file.read_text())["instances"]) == 1
    setup.log_file.write_text('{"ok": true, "user": "app"}\n{"ok": false, "user": "report"}\nnot json\n')
    assert [e["user"] for e in setup.accepted()] == ["app"]
    assert [e["user"] for e in setup.rejected()] == ["report"]
    setup.clear_log()
    assert setup.log() == []
    setup.remove()
    assert not (pam_dir / setup.service).exists()
    setup.remove()  # idempotent


def test_mysql_gets_a_certificate_and_tls_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    if shutil.which("openssl") is None:
        pytest.skip("no openssl command")
    monkeypatch.setattr(iam, "PAM_DIR", tmp_path)
    monkeypatch.setattr(iam, "find_pam_python", lambda: Path("/lib/security/pam_python.so"))
    setup = IamSetup(
        IamConfig(), tmp_path / "work", "127.101.7", 3306, "mysql", "x.us-east-1.rds.amazonaws.com"
    )
    setup.prepare([HOST], [_node(tmp_path, 1)])
    assert setup.cert_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" in setup.key_file.read_text()
    assert setup.node_extra()[iam.EXTRA_CERT] == str(setup.cert_file)


def test_iam_mode_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iam, "find_pam_python", lambda: None)
    check = iam.iam_missing.__wrapped__  # the uncached function
    import os

    if os.geteuid() != 0:
        assert "needs root" in str(check("pg", False))
    else:
        assert check("pg", False) == "libpam-python is not installed (apt-get install libpam-python)"


def test_the_pytest_markers_skip_when_iam_mode_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_wrapper.testing import pytest_plugin

    monkeypatch.setattr(pytest_plugin, "_missing", lambda engine: None)
    monkeypatch.setattr(iam, "iam_missing", lambda engine, install=True: "no pam here")
    with pytest.raises(
        pytest.skip.Exception, match="IAM mode of the local pg cluster unavailable: no pam here"
    ):
        pytest_plugin._skip_unless("pg", {"iam": True})
    pytest_plugin._skip_unless("pg", {"iam": False})
    pytest_plugin._skip_unless("pg", {})


def test_the_cli_passes_the_iam_options() -> None:
    parser = _parser()
    assert "iam" not in up_config(parser.parse_args(["up"]))
    assert up_config(parser.parse_args(["up", "--iam"]))["iam"] is True
    config = up_config(
        parser.parse_args(
            ["up", "--engine", "mysql", "--iam-user", "a", "--iam-user", "b", "--iam-region", "eu-west-1"]
        )
    )
    assert config["iam"] == {"users": ["a", "b"], "region": "eu-west-1"}
    assert IamConfig.coerce(config["iam"]) == IamConfig(users=("a", "b"), region="eu-west-1")


def test_token_timestamps_are_parsed_without_datetime() -> None:
    assert (
        verifier._epoch("20261203T172132Z")
        == time.mktime(time.strptime("20261203T172132Z", "%Y%m%dT%H%M%SZ")) - time.timezone
    )
    for bad in ("2026-12-03T17:21:32Z", "20261303T172132Z", "20261203T172132", "2026120xT172132Z"):
        with pytest.raises(verifier.Rejected):
            verifier._epoch(bad)

"""AWS stand-ins: a fake credential environment and a moto server on loopback.

Nothing here imports boto3 or moto at import time; they are imported (or run) only when a server starts or a
client is made. Install them with the ``aws`` extra: ``pip install "aws-wrapper-testing[aws]"``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["AWS_ENV_UNSET", "MotoServer", "fake_aws_env", "fake_aws_environ"]

_log = logging.getLogger("aws_wrapper.testing")

AWS_ENV_UNSET = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_ENDPOINT_URL",
)
"""Variables removed from a fake AWS environment (so is every ``AWS_ENDPOINT_URL_<SERVICE>``)."""

_START_TIMEOUT = 30.0
_RUNNING_ON = re.compile(r"Running on https?://(?:\[[^\]]*\]|[^\s:/]+):(\d+)")


def fake_aws_env() -> dict[str, str]:
    """The variables to set so that boto3 uses fake credentials and never probes the EC2 metadata address.

    ``AWS_CONFIG_FILE`` and ``AWS_SHARED_CREDENTIALS_FILE`` point at the null device, so no profile of the
    machine's user is read. Remove :data:`AWS_ENV_UNSET` as well (``fake_aws_environ()`` does both).
    """
    return {
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def _unset(name: str) -> bool:
    return name in AWS_ENV_UNSET or name.startswith("AWS_ENDPOINT_URL_")


def fake_aws_environ(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A whole environment for a child process: ``base`` (default ``os.environ``) with the fake AWS settings."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not _unset(k)}
    env.update(fake_aws_env())
    return env


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ModuleNotFoundError(
            f"{module!r} is not installed; install aws-wrapper-testing[aws] (moto[server] and boto3)",
            name=module,
        )


class MotoServer:
    """A moto server (``python -m moto.server``) on a loopback address, as a child process.

    ``port=0`` lets the server pick a free port; the real one is read from its log once it listens. A child
    process starts as fast as an in-process ``ThreadedMotoServer`` (moto's import dominates both), stops in tens
    of milliseconds instead of half a second, and keeps moto's global state away from tests that use
    ``moto.mock_aws`` in the test process.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._work_dir: Path | None = None

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def endpoint_url(self) -> str:
        if self._process is None:
            raise RuntimeError("moto server is not started; call start() first")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def log_file(self) -> Path | None:
        return None if self._work_dir is None else self._work_dir / "moto.log"

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"MotoServer({self._host}:{self._port}, {state})"

    def start(self) -> MotoServer:
        """Start the server and wait until it listens. Returns ``self``; no-op if already running."""
        if self._process is not None:
            return self
        _require("moto")
        self._work_dir = Path(tempfile.mkdtemp(prefix="aws-wrapper-moto-"))
        log_path = self._work_dir / "moto.log"
        argv = [sys.executable, "-m", "moto.server", "-H", self._host, "-p", str(self._port)]
        env = fake_aws_environ()
        env["PYTHONUNBUFFERED"] = "1"
        with log_path.open("wb") as log:
            self._process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, close_fds=True
            )
        started = time.monotonic()
        try:
            self._port = self._wait_listening(log_path, started + _START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        _log.info("moto server on %s (started in %.2f s)", self.endpoint_url, time.monotonic() - started)
        return self

    def _wait_listening(self, log_path: Path, deadline: float) -> int:
        assert self._process is not None
        while True:
            text = log_path.read_text(encoding="utf-8", errors="replace")
            match = _RUNNING_ON.search(text)
            if match:
                return int(match.group(1))
            code = self._process.poll()
            if code is not None:
                raise RuntimeError(
                    f"moto server on {self._host!r} port {self._port} exited with code {code}: {text[-2000:]!r}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"moto server on {self._host!r} port {self._port} did not listen within {_START_TIMEOUT} s: "
                    f"{text[-2000:]!r}"
                )
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server and remove its log. Idempotent."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        work_dir, self._work_dir = self._work_dir, None
        if work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Wipe all of moto's state (every service, every region)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", data=b"", method="POST")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
        with opener.open(request, timeout=10) as response:
            if response.status != 200:
                raise RuntimeError(f"moto reset at {self.endpoint_url!r} answered http {response.status}")

    def client(self, service: str, region: str = "us-east-1") -> Any:
        """A boto3 client of ``service`` bound to this server, with fake credentials."""
        _require("boto3")
        import boto3

        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
        )
        return session.client(service, endpoint_url=self.endpoint_url)

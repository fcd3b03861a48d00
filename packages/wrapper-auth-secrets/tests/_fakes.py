"""Fakes for the unit tests: a plugin context with an error classifier, a proceed that records its calls, and a
boto3-like session / client pair served from a dict of secrets."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any, cast

from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.plugin import RawConnection
from aws_wrapper.core.services import PluginContext
from aws_wrapper.core.telemetry import NULL_TELEMETRY


class LoginFailed(PermissionError):
    """What the fake driver raises for a wrong user or password."""


class FakeErrors:
    def is_network_error(self, error: BaseException) -> bool:
        return isinstance(error, ConnectionError)

    def is_login_error(self, error: BaseException) -> bool:
        return isinstance(error, LoginFailed)

    def is_read_only_error(self, error: BaseException) -> bool:
        return False


class CountingTelemetry:
    """Telemetry that counts ``inc`` per counter name (the rest is core's no-op)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def counter(self, name: str) -> Any:
        counts = self.counts

        class _Counter:
            def inc(self, value: int = 1, attributes: Mapping[str, object] | None = None) -> None:
                counts[name] = counts.get(name, 0) + value

        return _Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(NULL_TELEMETRY, name)


def fake_context(props: Mapping[str, Any] | None = None, telemetry: Any = NULL_TELEMETRY) -> PluginContext:
    return cast(
        PluginContext,
        SimpleNamespace(
            props=dict(props or {}), dialects=SimpleNamespace(errors=FakeErrors()), telemetry=telemetry
        ),
    )


class FakeServer:
    """A database server that accepts one user / password pair; ``proceed`` is the pipeline's continuation."""

    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self.password = password
        self.calls: list[dict[str, Any]] = []
        self.other_error: Exception | None = None

    def proceed(self, host: HostInfo, props: Mapping[str, Any], initial: bool, /) -> RawConnection:
        self.calls.append(dict(props))
        if self.other_error is not None:
            raise self.other_error
        if props.get("user") != self.user or props.get("password") != self.password:
            raise LoginFailed(f"password authentication failed for user {props.get('user')!r}")
        return ("connection", props["user"])


class FakeClient:
    """A Secrets Manager client over a dict: secret id -> value (a JSON text, or an exception to raise)."""

    def __init__(self, secrets: dict[str, Any], kwargs: dict[str, Any]) -> None:
        self.secrets = secrets
        self.kwargs = kwargs
        self.calls = 0
        self.closed = False
        self.before: Callable[[], None] | None = None
        self._lock = threading.Lock()

    def get_secret_value(self, *, SecretId: str) -> dict[str, Any]:  # boto3's parameter name
        with self._lock:
            self.calls += 1
        if self.before is not None:
            self.before()
        value = self.secrets[SecretId]
        if isinstance(value, BaseException):
            raise value
        if isinstance(value, dict):
            return value  # a whole response
        return {"Name": SecretId, "SecretString": value}

    def close(self) -> None:
        self.closed = True


class FakeSession:
    def __init__(self, secrets: dict[str, Any]) -> None:
        self.secrets = secrets
        self.clients: list[FakeClient] = []
        self.factory_calls: list[dict[str, Any]] = []
        self.threads: list[threading.Thread] = []

    def factory(self, *, profile: str | None) -> FakeSession:
        self.factory_calls.append({"profile": profile})
        self.threads.append(threading.current_thread())
        return self

    def client(self, service_name: str, **kwargs: Any) -> FakeClient:
        assert service_name == "secretsmanager"
        client = FakeClient(self.secrets, kwargs)
        self.clients.append(client)
        return client

    @property
    def calls(self) -> int:
        return sum(c.calls for c in self.clients)


def secret_json(user: str, password: str, **more: Any) -> str:
    return json.dumps({"username": user, "password": password, **more})

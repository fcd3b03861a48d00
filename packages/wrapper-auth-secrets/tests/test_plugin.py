from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint, entry_points

import pytest

import aws_wrapper.auth.secrets as package
from aws_wrapper.auth.secrets import (
    SETTINGS,
    AwsSecretsManagerPlugin,
    AwsSecretsManagerPluginFactory,
    Credentials,
    SecretCache,
    SecretsManagerConfig,
)
from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.plugin import Plugin
from aws_wrapper.core.registry import REGISTRY

from ._fakes import CountingTelemetry, FakeServer, LoginFailed, fake_context

HOST = HostInfo("db-1", 5432)
CONFIG = SecretsManagerConfig(secret_id="app/db", region="us-east-1")


class Secret:
    """The secret's current value as the fake fetch sees it; counts the fetches."""

    def __init__(self, user: str, password: str) -> None:
        self.value = Credentials(user, password)
        self.fetches = 0

    def fetch(self, config: SecretsManagerConfig) -> Credentials:
        assert config is CONFIG
        self.fetches += 1
        return self.value


def make_plugin(secret: Secret, cache: SecretCache | None = None) -> AwsSecretsManagerPlugin:
    return AwsSecretsManagerPlugin(
        fake_context(), CONFIG, fetch=secret.fetch, cache=cache if cache is not None else SecretCache()
    )


def test_connect_puts_the_secret_into_new_props_without_touching_the_callers() -> None:
    secret = Secret("app", "pw-1")
    server = FakeServer("app", "pw-1")
    props = {"user": "someone", "password": "typed", "passwd": "old", "dbname": "x"}
    conn = make_plugin(secret).connect(HOST, props, True, server.proceed)
    assert conn == ("connection", "app")
    assert server.calls == [{"user": "app", "password": "pw-1", "dbname": "x"}]
    assert props == {"user": "someone", "password": "typed", "passwd": "old", "dbname": "x"}


def test_every_fetch_counts_upstreams_metric() -> None:
    secret = Secret("app", "pw-1")
    telemetry = CountingTelemetry()
    plugin = AwsSecretsManagerPlugin(
        fake_context(telemetry=telemetry), CONFIG, fetch=secret.fetch, cache=SecretCache()
    )
    server = FakeServer("app", "pw-1")
    for _ in range(3):
        plugin.connect(HOST, {}, True, server.proceed)
    assert secret.fetches == 1  # cached after the first
    assert telemetry.counts == {"secrets_manager.fetch_credentials.count": 1}


def test_force_connect_authenticates_the_same_way() -> None:
    secret = Secret("app", "pw-1")
    server = FakeServer("app", "pw-1")
    plugin = make_plugin(secret)
    assert plugin.force_connect(HOST, {}, False, server.proceed) == ("connection", "app")
    assert server.calls[-1]["password"] == "pw-1"
    # rotation is handled on the force_connect path too (a monitoring connection after a rotation)
    secret.value = Credentials("app", "pw-2")
    server.password = "pw-2"
    assert plugin.force_connect(HOST, {}, False, server.proceed) == ("connection", "app")
    assert secret.fetches == 2
    assert [c["password"] for c in server.calls] == ["pw-1", "pw-1", "pw-2"]


def test_connections_share_the_cached_secret() -> None:
    secret = Secret("app", "pw-1")
    server = FakeServer("app", "pw-1")
    cache = SecretCache()
    for _ in range(3):
        make_plugin(secret, cache).connect(HOST, {}, True, server.proceed)
    assert secret.fetches == 1


def test_profiles_do_not_share_a_cached_secret() -> None:
    """Two profiles may be two AWS accounts, each with a secret of the same name in the same region."""
    cache = SecretCache()
    fetched: list[str | None] = []

    def fetch(config: SecretsManagerConfig) -> Credentials:
        fetched.append(config.profile)
        return Credentials("app", f"pw-{config.profile}")

    server = FakeServer("app", "pw-prod")
    for profile in ("prod", "prod", "test"):
        config = SecretsManagerConfig(secret_id="app/db", region="us-east-1", profile=profile)
        plugin = AwsSecretsManagerPlugin(fake_context(), config, fetch=fetch, cache=cache)
        server.password = f"pw-{profile}"
        plugin.connect(HOST, {}, True, server.proceed)
    assert fetched == ["prod", "test"]
    assert [c["password"] for c in server.calls] == ["pw-prod", "pw-prod", "pw-test"]


def test_rotation_refetches_once_and_retries_once() -> None:
    secret = Secret("app", "pw-1")
    server = FakeServer("app", "pw-1")
    cache = SecretCache()
    make_plugin(secret, cache).connect(HOST, {}, True, server.proceed)
    secret.value = Credentials("app", "pw-2")
    server.password = "pw-2"
    assert make_plugin(secret, cache).connect(HOST, {}, True, server.proceed) == ("connection", "app")
    assert secret.fetches == 2
    assert [c["password"] for c in server.calls] == ["pw-1", "pw-1", "pw-2"]
    make_plugin(secret, cache).connect(HOST, {}, True, server.proceed)
    assert secret.fetches == 2  # the new value is cached


def test_a_login_failure_with_a_freshly_fetched_secret_is_not_retried() -> None:
    secret = Secret("app", "wrong")
    server = FakeServer("app", "right")
    with pytest.raises(LoginFailed):
        make_plugin(secret).connect(HOST, {}, True, server.proceed)
    assert (secret.fetches, len(server.calls)) == (1, 1)


def test_a_login_failure_with_an_unchanged_secret_refetches_once_and_raises_the_driver_error() -> None:
    secret = Secret("app", "wrong")
    server = FakeServer("app", "wrong")
    cache = SecretCache()
    make_plugin(secret, cache).connect(HOST, {}, True, server.proceed)
    server.password = "changed-on-the-server-only"
    with pytest.raises(LoginFailed) as info:
        make_plugin(secret, cache).connect(HOST, {}, True, server.proceed)
    assert isinstance(info.value, LoginFailed)  # the driver's own error, unchanged
    assert secret.fetches == 2
    assert len(server.calls) == 2  # no retry with the same credentials


def test_the_retry_fails_with_its_own_error() -> None:
    secret = Secret("app", "pw-1")
    server = FakeServer("app", "pw-1")
    cache = SecretCache()
    make_plugin(secret, cache).connect(HOST, {}, True, server.proceed)
    secret.value = Credentials("app", "pw-2")  # rotated in AWS, but the server has yet another password
    server.password = "pw-3"
    with pytest.raises(LoginFailed) as info:
        make_plugin(secret, cache).connect(HOST, {}, True, server.proceed)
    assert info.value.__context__ is None  # raised outside the first failure's handler
    assert secret.fetches == 2
    assert len(server.calls) == 3


def test_other_errors_pass_through_without_a_refetch() -> None:
    secret = Secret("app", "pw-1")
    server = FakeServer("app", "pw-1")
    cache = SecretCache()
    make_plugin(secret, cache).connect(HOST, {}, True, server.proceed)
    server.other_error = ConnectionRefusedError("db-1 refused")
    with pytest.raises(ConnectionRefusedError):
        make_plugin(secret, cache).connect(HOST, {}, True, server.proceed)
    assert secret.fetches == 1


def test_fetch_errors_propagate_and_nothing_is_connected() -> None:
    server = FakeServer("app", "pw")

    def failing(config: SecretsManagerConfig) -> Credentials:
        raise ConfigurationError("secret 'app/db' in region 'us-east-1' was not found")

    plugin = AwsSecretsManagerPlugin(fake_context(), CONFIG, fetch=failing, cache=SecretCache())
    with pytest.raises(ConfigurationError, match="not found"):
        plugin.connect(HOST, {}, True, server.proceed)
    assert server.calls == []


def test_the_factory() -> None:
    factory = AwsSecretsManagerPluginFactory
    assert factory.code == "aws_secrets_manager"
    assert factory.aliases == ("awsSecretsManager",)
    assert factory.weight == 800
    assert factory.settings == SETTINGS
    assert not factory.default
    plugin = factory().create(
        fake_context({"secrets_manager_secret_id": "arn:aws:secretsmanager:eu-west-3:1:secret:x-1"})
    )
    assert isinstance(plugin, AwsSecretsManagerPlugin)
    assert plugin.config.region == "eu-west-3"
    assert "AwsSecretsManagerPlugin(SecretsManagerConfig(" in repr(plugin)
    with pytest.raises(ConfigurationError, match="secrets_manager_region"):
        factory().create(fake_context({"secrets_manager_secret_id": "x"}))


def test_both_overridden_hooks_are_the_plugins_own() -> None:
    assert AwsSecretsManagerPlugin.connect is not Plugin.connect
    assert AwsSecretsManagerPlugin.force_connect is not Plugin.force_connect


@pytest.mark.parametrize("code", ["aws_secrets_manager", "awsSecretsManager", "AWS-SECRETS-MANAGER"])
def test_the_registry_finds_every_spelling(code: str) -> None:
    assert REGISTRY.get(code) is AwsSecretsManagerPluginFactory


def test_entry_point_metadata_matches_the_factory() -> None:
    def mine(group: str) -> list[EntryPoint]:
        return [
            ep
            for ep in entry_points().select(group=group)
            if ep.dist is not None and ep.dist.name == "aws-wrapper-auth-secrets"
        ]

    plugins = {ep.name: ep.value for ep in mine("aws_wrapper.plugins")}
    assert plugins == {"aws_secrets_manager": "aws_wrapper.auth.secrets:AwsSecretsManagerPluginFactory"}
    assert not mine("aws_wrapper.default_plugins")
    assert not mine("aws_wrapper.plugin_aliases")  # awsSecretsManager normalizes to the code itself
    settings = {ep.name: ep.load() for ep in mine("aws_wrapper.settings")}
    assert settings == {s.name: s for s in SETTINGS}
    for name, setting in settings.items():
        assert setting is next(s for s in SETTINGS if s.name == name)


def test_importing_the_package_imports_no_aws_sdk() -> None:
    code = (
        "import sys, threading; import aws_wrapper.auth.secrets; "
        "from aws_wrapper.core.registry import REGISTRY; REGISTRY.get('aws_secrets_manager'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')), threading.active_count())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "1"]


def test_the_public_surface() -> None:
    for name in package.__all__:
        assert hasattr(package, name), name

"""The ``aws_secrets_manager`` plugin end to end: secrets in moto, logins checked by real PostgreSQL (scram-sha-256)
and MariaDB servers, fetches counted at the Secrets Manager client."""

from __future__ import annotations

import threading
import traceback
from typing import Any

import pytest

from aws_wrapper.auth.secrets import REDACTED, SECRETS, AwsSecretsManagerPlugin
from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.testing import MotoServer

from .conftest import REGION, Db, FetchCounter, LogCapture, SecretsAdmin, new_password

pytestmark = pytest.mark.integration


def settings(moto: MotoServer, secret_id: str, **more: Any) -> dict[str, Any]:
    return {"secrets_manager_secret_id": secret_id, "secrets_manager_endpoint": moto.endpoint_url, **more}


def test_connect_with_a_secret(
    db: Db, moto: MotoServer, secrets_admin: SecretsAdmin, fetches: FetchCounter
) -> None:
    password = new_password()
    user = db.new_user(password)
    name, arn = secrets_admin.create(user, password)

    conn = db.wrapper(**settings(moto, name, secrets_manager_region=REGION))
    assert db.current_user(conn) == user
    conn.close()
    assert fetches.fetches == 1
    assert fetches.threads == {threading.current_thread().name}  # the client was made and used on this thread

    # the ARN names the region; it is another cache key, so one more fetch; then both are served from the cache
    conn = db.wrapper(**settings(moto, arn))
    assert db.current_user(conn) == user
    conn.close()
    for secret_id in (name, arn):
        extra = {"secrets_manager_region": REGION} if secret_id == name else {}
        db.wrapper(**settings(moto, secret_id, **extra)).close()
    assert fetches.fetches == 2


def test_a_rotation_is_fetched_once_and_the_connect_succeeds(
    db: Db, moto: MotoServer, secrets_admin: SecretsAdmin, fetches: FetchCounter
) -> None:
    old, new = new_password(), new_password()
    user = db.new_user(old)
    _, arn = secrets_admin.create(user, old)
    db.wrapper(**settings(moto, arn)).close()
    assert fetches.fetches == 1

    db.set_password(user, new)  # rotation: the database first, then the secret (as a rotation lambda does)
    secrets_admin.rotate(arn, user, new)

    conn = db.wrapper(**settings(moto, arn))
    assert db.current_user(conn) == user
    conn.close()
    assert fetches.fetches == 2
    db.wrapper(**settings(moto, arn)).close()
    assert fetches.fetches == 2  # the new value is cached


@pytest.mark.parametrize("rotated", [False, True], ids=["first-connects", "after-rotation"])
def test_concurrent_connects_share_one_fetch(
    db: Db, moto: MotoServer, secrets_admin: SecretsAdmin, fetches: FetchCounter, rotated: bool
) -> None:
    old, new = new_password(), new_password()
    user = db.new_user(old)
    _, arn = secrets_admin.create(user, old)
    if rotated:
        db.wrapper(**settings(moto, arn)).close()
        db.set_password(user, new)
        secrets_admin.rotate(arn, user, new)
    before = fetches.fetches
    start = threading.Barrier(6)
    users: list[str] = []
    errors: list[BaseException] = []

    def connect() -> None:
        start.wait()
        try:
            conn = db.wrapper(**settings(moto, arn))
            users.append(db.current_user(conn))
            conn.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=connect) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert users == [user] * 6
    assert fetches.fetches - before == 1


def test_a_wrong_secret_id_names_the_setting_and_the_id(
    db: Db, moto: MotoServer, secrets_admin: SecretsAdmin, fetches: FetchCounter
) -> None:
    with pytest.raises(ConfigurationError) as info:
        db.wrapper(**settings(moto, "no/such/secret", secrets_manager_region=REGION))
    text = str(info.value)
    assert "'secrets_manager_secret_id'" in text
    assert "secret 'no/such/secret' in region 'us-east-1'" in text
    assert "was not found" in text
    assert fetches.fetches == 1
    assert len(SECRETS) == 0  # nothing cached: the next connect asks again


def test_a_wrong_region_is_reported_and_a_missing_one_is_never_guessed(
    db: Db, moto: MotoServer, secrets_admin: SecretsAdmin, fetches: FetchCounter
) -> None:
    password = new_password()
    user = db.new_user(password)
    name, _ = secrets_admin.create(user, password)
    with pytest.raises(ConfigurationError) as info:
        db.wrapper(**settings(moto, name, secrets_manager_region="eu-west-1"))
    assert f"secret {name!r} in region 'eu-west-1'" in str(info.value)
    assert "from secrets_manager_region" in str(info.value)
    assert fetches.fetches == 1

    with pytest.raises(ConfigurationError) as missing:
        db.wrapper(**settings(moto, name))  # a name, no region: refused before any request
    assert "'secrets_manager_region'" in str(missing.value)
    assert repr(name) in str(missing.value)
    assert fetches.fetches == 1


def test_a_login_failure_with_an_unchanged_secret_raises_the_drivers_error(
    db: Db, moto: MotoServer, secrets_admin: SecretsAdmin, fetches: FetchCounter
) -> None:
    password = new_password()
    user = db.new_user(password)
    _, arn = secrets_admin.create(user, password)
    db.wrapper(**settings(moto, arn)).close()
    db.set_password(user, new_password())  # the server changed, the secret did not
    with pytest.raises(Exception) as info:
        db.wrapper(**settings(moto, arn))
    assert db.is_login_error(info.value), repr(info.value)
    assert fetches.fetches == 2  # one re-fetch to look for a rotation, no retry with the same password


def test_no_password_reaches_a_log_an_error_or_a_repr(
    db: Db, moto: MotoServer, secrets_admin: SecretsAdmin, fetches: FetchCounter, logs: LogCapture
) -> None:
    """DEBUG for every logger while the wrapper connects successfully, after a rotation, with a wrong password
    in the secret, and with a wrong secret id; then the captured records, every error's text and traceback, and
    the reprs of the objects involved are searched for each password used."""
    first, second, wrong = new_password(), new_password(), new_password()
    user = db.new_user(first)
    _, arn = secrets_admin.create(user, first)
    texts: list[str] = []

    def record_error(error: BaseException) -> None:
        texts.append(str(error))
        texts.append(repr(error))
        texts.extend(traceback.format_exception(type(error), error, error.__traceback__))

    conn = db.wrapper(**settings(moto, arn))  # success
    plugin = conn.plugin(AwsSecretsManagerPlugin)
    assert plugin is not None
    texts += [repr(conn), repr(plugin), repr(plugin.config), repr(plugin._context), repr(SECRETS)]
    texts.append(repr(SECRETS.peek(plugin.config.cache_key)))
    conn.close()

    db.set_password(user, second)  # rotation
    secrets_admin.rotate(arn, user, second)
    conn = db.wrapper(**settings(moto, arn))
    texts += [repr(conn), repr(conn.plugin(AwsSecretsManagerPlugin))]
    conn.close()

    _, bad_arn = secrets_admin.create(user, wrong)  # failure: the secret holds a password the server refuses
    with pytest.raises(Exception) as failed:
        db.wrapper(**settings(moto, bad_arn))
    assert db.is_login_error(failed.value)
    record_error(failed.value)

    with pytest.raises(ConfigurationError) as unknown:
        db.wrapper(**settings(moto, arn + "-nope"))
    record_error(unknown.value)

    assert fetches.fetches == 4
    log_text = logs.text
    everything = log_text + "\n".join(texts)
    for password in (first, second, wrong):
        assert password not in everything, f"a password leaked: {_context(everything, password)}"
    assert "fetching secret" in log_text  # the plugin logged at DEBUG
    assert REDACTED in log_text  # botocore logged the response bodies, redacted


def _context(text: str, needle: str) -> str:
    at = text.index(needle)
    return text[max(0, at - 150) : at + 50].replace(needle, "<password>")

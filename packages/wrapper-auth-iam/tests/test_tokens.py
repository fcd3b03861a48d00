"""The token cache: reuse until too old, single flight for concurrent connects, replacement of a rejected token,
and no token in any repr."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from aws_wrapper.auth.iam import Token, TokenCache, TokenKey
from aws_wrapper.core.errors import AwsWrapperError

from ._fakes import run_threads

KEY = TokenKey("app", "db.cluster-xyz.us-east-1.rds.amazonaws.com", 5432, "us-east-1")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Generator:
    def __init__(self) -> None:
        self.calls = 0
        self._serial = itertools.count(1)

    def __call__(self) -> str:
        self.calls += 1
        return f"token-{next(self._serial)}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> TokenCache:
    wall = Clock()
    wall.now = 1_700_000_000.0
    return TokenCache(clock=clock, wall_clock=lambda: wall.now + (clock.now - 1000.0))


def test_a_token_is_reused_until_its_ttl_then_regenerated(cache: TokenCache, clock: Clock) -> None:
    gen = Generator()
    first, cached = cache.get(KEY, 60, gen)
    assert (first.value, cached) == ("token-1", False)
    clock.now += 59.9
    again, cached = cache.get(KEY, 60, gen)
    assert (again is first, cached) == (True, True)
    clock.now += 0.1
    third, cached = cache.get(KEY, 60, gen)
    assert (third.value, cached) == ("token-2", False)
    assert cache.stats().generations == 2
    assert cache.stats().hits == 1


def test_keys_differ_by_user_host_port_and_region(cache: TokenCache) -> None:
    gen = Generator()
    keys = [
        KEY,
        TokenKey("other", KEY.host, KEY.port, KEY.region),
        TokenKey(KEY.user, "db-2.xyz.us-east-1.rds.amazonaws.com", KEY.port, KEY.region),
        TokenKey(KEY.user, KEY.host, 5433, KEY.region),
        TokenKey(KEY.user, KEY.host, KEY.port, "us-west-2"),
    ]
    values = {cache.get(k, 60, gen)[0].value for k in keys}
    assert len(values) == 5
    assert cache.get(keys[3], 60, gen)[1] is True
    assert len(cache) == 5


def test_a_shorter_ttl_of_the_caller_wins(cache: TokenCache, clock: Clock) -> None:
    gen = Generator()
    cache.get(KEY, 600, gen)
    clock.now += 30
    assert cache.get(KEY, 600, gen)[1] is True
    assert cache.get(KEY, 10, gen)[1] is False  # this connection allows only 10 s


def test_ttl_zero_generates_for_every_connect(cache: TokenCache) -> None:
    gen = Generator()
    assert [cache.get(KEY, 0, gen)[0].value for _ in range(3)] == ["token-1", "token-2", "token-3"]
    assert len(cache) == 0


def test_a_suspended_machine_does_not_revive_an_old_token() -> None:
    mono, wall = Clock(), Clock()
    cache = TokenCache(clock=mono, wall_clock=wall)
    gen = Generator()
    cache.get(KEY, 60, gen)
    wall.now += 3600  # the monotonic clock stood still (suspend), the wall clock did not
    assert cache.get(KEY, 60, gen)[1] is False


def test_concurrent_connects_share_one_generation() -> None:
    cache = TokenCache()
    gate = threading.Event()
    calls = []

    def slow() -> str:
        calls.append(threading.get_ident())
        gate.wait(5)
        return "the-token"

    results: list[tuple[str, bool]] = []

    def connect(_: int) -> None:
        token, cached = cache.get(KEY, 60, slow)
        results.append((token.value, cached))

    threads = [threading.Thread(target=connect, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while cache.stats().shared < 7 and time.monotonic() < deadline:
        time.sleep(0.005)
    gate.set()
    for t in threads:
        t.join(5)
    assert len(calls) == 1
    assert results == [("the-token", False)] * 8
    stats = cache.stats()
    assert (stats.generations, stats.shared, stats.hits) == (1, 7, 0)


def test_a_failed_generation_fails_every_waiter_with_its_own_copy() -> None:
    cache = TokenCache()
    gate = threading.Event()

    def failing() -> str:
        gate.wait(5)
        raise AwsWrapperError("generating the IAM token failed: no credentials")

    errors: list[BaseException] = []

    def connect(_: int) -> None:
        try:
            cache.get(KEY, 60, failing)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=connect, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while cache.stats().shared < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    gate.set()
    for t in threads:
        t.join(5)
    assert len(errors) == 4
    assert all(type(e) is AwsWrapperError and "no credentials" in str(e) for e in errors)
    assert len({id(e) for e in errors}) == 4
    assert cache.stats().failures == 1
    assert cache.get(KEY, 60, lambda: "recovered")[0].value == "recovered"  # nothing stuck in flight


def test_refresh_replaces_the_rejected_token_once_for_all_threads() -> None:
    cache = TokenCache()
    gen = Generator()
    old, _ = cache.get(KEY, 60, gen)
    fresh: list[str] = []
    errors = run_threads(6, lambda i: fresh.append(cache.refresh(KEY, 60, gen, old).value))
    assert errors == []
    assert set(fresh) == {"token-2"}  # one regeneration; the others got the token that replaced the old one
    assert gen.calls == 2


def test_discard_drops_only_the_named_token(cache: TokenCache) -> None:
    gen = Generator()
    first, _ = cache.get(KEY, 60, gen)
    other = Token("unrelated", 0.0, 0.0, 60)
    cache.discard(KEY, other)
    assert cache.get(KEY, 60, gen)[0] is first
    cache.discard(KEY, first)
    assert cache.get(KEY, 60, gen)[0].value == "token-2"


def test_no_repr_shows_a_token(cache: TokenCache) -> None:
    token, _ = cache.get(KEY, 60, lambda: "SECRET-TOKEN-VALUE")
    for text in (repr(token), str(token), repr(cache), str(cache), repr(cache.stats()), repr(KEY), str(KEY)):
        assert "SECRET-TOKEN-VALUE" not in text
    assert "***" in repr(token)
    assert str(KEY) == "app@db.cluster-xyz.us-east-1.rds.amazonaws.com:5432 (us-east-1)"


def test_clear_forgets_tokens_and_counters(cache: TokenCache) -> None:
    gen = Generator()
    cache.get(KEY, 60, gen)
    cache.clear()
    assert len(cache) == 0
    assert cache.stats().generations == 0
    assert cache.get(KEY, 60, gen)[1] is False

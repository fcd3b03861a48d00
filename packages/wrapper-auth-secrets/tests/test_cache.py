from __future__ import annotations

import pickle
import threading
import time

import pytest

from aws_wrapper.auth.secrets import Credentials, SecretCache

KEY = ("db", "us-east-1", None)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Fetcher:
    def __init__(self, *values: Credentials, delay: float = 0.0) -> None:
        self.values = list(values)
        self.calls = 0
        self.delay = delay
        self.error: Exception | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Credentials:
        with self._lock:
            self.calls += 1
            index = min(self.calls, len(self.values)) - 1
        if self.delay:
            time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.values[index]


A = Credentials("app", "pw-a")
B = Credentials("app", "pw-b")


def test_credentials_hide_the_password() -> None:
    assert repr(A) == str(A) == "Credentials(username='app', password='***')"
    assert "pw-a" not in repr(A)
    assert "pw-a" not in f"{A}"
    assert A == Credentials("app", "pw-a") != B
    assert hash(A) == hash(Credentials("app", "pw-a"))
    with pytest.raises(TypeError):
        pickle.dumps(A)


def test_a_value_is_reused_until_it_expires() -> None:
    clock = Clock()
    cache = SecretCache(clock)
    fetch = Fetcher(A, B)
    first = cache.get(KEY, 60, fetch)
    assert (first.credentials, first.fetched) == (A, True)
    clock.now += 59.9
    second = cache.get(KEY, 60, fetch)
    assert (second.credentials, second.fetched, second.generation) == (A, False, first.generation)
    assert (fetch.calls, cache.hits) == (1, 1)
    clock.now += 0.1
    third = cache.get(KEY, 60, fetch)
    assert (third.credentials, third.fetched) == (B, True)
    assert third.generation > first.generation
    assert (fetch.calls, cache.fetches, len(cache)) == (2, 2, 1)
    assert "pw-" not in repr(cache) + repr(third)


def test_ttl_zero_fetches_at_every_lookup() -> None:
    cache = SecretCache(Clock())
    fetch = Fetcher(A)
    for _ in range(3):
        assert cache.get(KEY, 0, fetch).fetched
    assert fetch.calls == 3


def test_keys_are_separate() -> None:
    cache = SecretCache(Clock())
    fetch = Fetcher(A, B)
    cache.get(KEY, 60, fetch)
    assert cache.get(("db", "eu-west-1", None), 60, fetch).credentials == B
    assert cache.peek(KEY) == A
    cache.invalidate(KEY)
    assert cache.peek(KEY) is None
    cache.clear()
    assert len(cache) == 0


def test_concurrent_lookups_share_one_fetch() -> None:
    cache = SecretCache()
    fetch = Fetcher(A, delay=0.2)
    start = threading.Barrier(8)
    leases = []

    def lookup() -> None:
        start.wait()
        leases.append(cache.get(KEY, 60, fetch))

    threads = [threading.Thread(target=lookup) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert fetch.calls == 1
    assert len(leases) == 8
    assert {lease.generation for lease in leases} == {leases[0].generation}
    assert all(lease.fetched and lease.credentials == A for lease in leases)


def test_a_failed_fetch_fails_every_waiter_and_caches_nothing() -> None:
    cache = SecretCache()
    fetch = Fetcher(A, delay=0.2)
    fetch.error = RuntimeError("aws is down")
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def lookup() -> None:
        start.wait()
        try:
            cache.get(KEY, 60, fetch)
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=lookup) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert fetch.calls == 1
    assert len(errors) == 4
    assert len(cache) == 0
    fetch.error = None
    assert cache.get(KEY, 60, fetch).credentials == A
    assert fetch.calls == 2


def test_refresh_fetches_unless_someone_already_did() -> None:
    cache = SecretCache(Clock())
    fetch = Fetcher(A, B)
    used = cache.get(KEY, 60, fetch)
    newer = cache.refresh(KEY, 60, fetch, used.generation)
    assert (newer.credentials, newer.fetched) == (B, True)
    # a second connect that failed with the same (old) generation gets the refreshed value without a fetch
    again = cache.refresh(KEY, 60, fetch, used.generation)
    assert (again.credentials, again.generation) == (B, newer.generation)
    assert fetch.calls == 2
    # the refreshed value is now what plain lookups get
    assert cache.get(KEY, 60, fetch).credentials == B


def test_concurrent_refreshes_after_a_rotation_fetch_once() -> None:
    cache = SecretCache()
    fetch = Fetcher(A, B, delay=0.1)
    used = cache.get(KEY, 3600, fetch)
    start = threading.Barrier(6)
    results = []

    def refresh() -> None:
        start.wait()
        results.append(cache.refresh(KEY, 3600, fetch, used.generation))

    threads = [threading.Thread(target=refresh) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert fetch.calls == 2
    assert [r.credentials for r in results] == [B] * 6

"""The process-wide cache of fetched secrets: expiring entries, one fetch at a time per secret (single flight).

Every stored value gets a generation number. A connect that failed to log in with a cached value asks for a value
*newer than the generation it used*: if another connect already re-fetched the secret meanwhile, that value is
returned without a second fetch, so a burst of failing connects after a rotation costs one fetch.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future

from aws_wrapper.core.errors import AwsWrapperError

__all__ = ["Credentials", "Lease", "SecretCache", "SECRETS"]


class Credentials:
    """A database user and password taken from a secret. The password never appears in ``repr`` or ``str``."""

    __slots__ = ("password", "username")

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return self.username == other.username and self.password == other.password

    def __hash__(self) -> int:
        return hash((self.username, self.password))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Credentials are not picklable")  # keeps passwords out of pickles and copies


class Lease:
    """What a lookup returns: the credentials, the generation of the cache entry they came from, and whether they
    were fetched during this lookup (by this thread or by a fetch it waited for)."""

    __slots__ = ("credentials", "fetched", "generation")

    def __init__(self, credentials: Credentials, generation: int, fetched: bool) -> None:
        self.credentials = credentials
        self.generation = generation
        self.fetched = fetched

    def __repr__(self) -> str:
        return f"Lease({self.credentials!r}, generation={self.generation}, fetched={self.fetched})"


class _Entry:
    __slots__ = ("credentials", "expires_at", "generation")

    def __init__(self, credentials: Credentials, expires_at: float, generation: int) -> None:
        self.credentials = credentials
        self.expires_at = expires_at
        self.generation = generation


Fetch = Callable[[], Credentials]


class SecretCache:
    """Thread-safe cache of credentials by key (secret id, region, endpoint, profile). ``fetches`` counts the fetches
    started (successful or not), ``hits`` the lookups answered from the cache."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[Hashable, _Entry] = {}
        self._flights: dict[Hashable, Future[Lease]] = {}
        self._generations = itertools.count(1)
        self.fetches = 0
        self.hits = 0

    def __repr__(self) -> str:
        return f"SecretCache(entries={len(self._entries)}, fetches={self.fetches}, hits={self.hits})"

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, ttl: float, fetch: Fetch) -> Lease:
        """The cached credentials of ``key`` while they are younger than their ttl, else fetched ones (``ttl``
        is the lifetime of a value fetched now). Concurrent callers share one fetch; a failed fetch raises its
        error in each of them and caches nothing."""
        return self._obtain(key, ttl, fetch, newer_than=None)

    def refresh(self, key: Hashable, ttl: float, fetch: Fetch, newer_than: int) -> Lease:
        """Credentials of ``key`` from a generation after ``newer_than``: the cached ones if another caller has
        re-fetched since, else fetched now (whatever their age)."""
        return self._obtain(key, ttl, fetch, newer_than=newer_than)

    def peek(self, key: Hashable) -> Credentials | None:
        """The cached credentials of ``key`` (expired or not), without fetching."""
        with self._lock:
            entry = self._entries.get(key)
            return None if entry is None else entry.credentials

    def invalidate(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget every entry (fetches in flight still complete and store their value)."""
        with self._lock:
            self._entries.clear()

    def _obtain(self, key: Hashable, ttl: float, fetch: Fetch, newer_than: int | None) -> Lease:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                if newer_than is None and self._clock() < entry.expires_at:
                    self.hits += 1
                    return Lease(entry.credentials, entry.generation, fetched=False)
                if newer_than is not None and entry.generation > newer_than:
                    return Lease(entry.credentials, entry.generation, fetched=True)
            flight = self._flights.get(key)
            owner = flight is None
            if flight is None:
                flight = self._flights[key] = Future()
                self.fetches += 1
        if not owner:
            return flight.result()  # the owner's lease, or its error
        try:
            credentials = fetch()
        except BaseException as exc:
            with self._lock:
                del self._flights[key]
            shared = (
                exc
                if isinstance(exc, Exception)
                else AwsWrapperError("the fetch of the secret was interrupted")
            )
            flight.set_exception(shared)
            raise
        with self._lock:
            generation = next(self._generations)
            self._entries[key] = _Entry(credentials, self._clock() + max(0.0, ttl), generation)
            del self._flights[key]
        lease = Lease(credentials, generation, fetched=True)
        flight.set_result(lease)
        return lease


#: The cache shared by every connection of the process (cleared by ``release_resources()``).
SECRETS = SecretCache()

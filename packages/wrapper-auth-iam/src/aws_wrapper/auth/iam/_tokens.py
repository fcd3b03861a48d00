"""The process-wide token cache: one token per (user, host, port, region), reused until it is too old, generated
once however many threads connect at the same time (single flight).

A token is a credential: :class:`Token` and :class:`TokenCache` never show one in ``repr`` / ``str``.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable

from aws_wrapper.core.records import record

__all__ = ["TokenKey", "Token", "TokenCache", "TOKENS", "TokenStats"]


@record(frozen=True)
class TokenKey:
    """What a token is signed for."""

    user: str
    host: str
    port: int
    region: str

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port} ({self.region})"


class Token:
    """A generated token and when it was made. ``value`` is the credential itself: never log it."""

    __slots__ = ("created", "created_wall", "ttl", "value")

    def __init__(self, value: str, created: float, created_wall: float, ttl: float) -> None:
        self.value = value
        self.created = created  # time.monotonic() (the cache's clock)
        self.created_wall = created_wall  # time.time(): a suspended machine must not revive an old token
        self.ttl = ttl

    def fresh(self, now: float, wall: float, ttl: float) -> bool:
        """Young enough to be handed out to a connection whose ``iam_expiration`` gives ``ttl``."""
        limit = min(self.ttl, ttl)
        return now - self.created < limit and wall - self.created_wall < limit

    def __repr__(self) -> str:
        return f"Token(value='***', ttl={self.ttl:g})"

    __str__ = __repr__


@record(frozen=True)
class TokenStats:
    """Counters of a :class:`TokenCache` since it was made or cleared."""

    generations: int = 0  # tokens generated (calls of the generator that succeeded)
    hits: int = 0  # connections served from the cache
    shared: int = 0  # connections that waited for a generation another thread had started
    failures: int = 0  # generator calls that raised


class _Flight:
    """One generation in progress; the threads that need the same key wait for it."""

    __slots__ = ("done", "error", "token")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.token: Token | None = None
        self.error: BaseException | None = None


class TokenCache:
    """Tokens by :class:`TokenKey`. Thread-safe; the generator runs outside the cache's lock, once per key at a
    time. ``clock`` / ``wall_clock`` are for tests."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._wall = wall_clock
        self._lock = threading.Lock()
        self._entries: dict[TokenKey, Token] = {}
        self._flights: dict[TokenKey, _Flight] = {}
        self._generations = 0
        self._hits = 0
        self._shared = 0
        self._failures = 0

    def get(self, key: TokenKey, ttl: float, generate: Callable[[], str]) -> tuple[Token, bool]:
        """The token for ``key`` and whether it came from the cache (True) or was generated for this call or a
        concurrent one (False). ``ttl``: how old a cached token may be for this caller (0: always generate)."""
        return self._obtain(key, ttl, generate, None)

    def refresh(self, key: TokenKey, ttl: float, generate: Callable[[], str], rejected: Token) -> Token:
        """A token for ``key`` other than ``rejected`` (which the server refused): a new one, or the one another
        thread generated meanwhile."""
        return self._obtain(key, ttl, generate, rejected)[0]

    def discard(self, key: TokenKey, token: Token | None = None) -> None:
        """Forget the cached token of ``key`` (only if it is still ``token``, when given)."""
        with self._lock:
            current = self._entries.get(key)
            if current is not None and (token is None or current is token):
                del self._entries[key]

    def clear(self) -> None:
        """Forget every token and reset the counters (``release_resources()`` does this)."""
        with self._lock:
            self._entries.clear()
            self._generations = self._hits = self._shared = self._failures = 0

    def stats(self) -> TokenStats:
        with self._lock:
            return TokenStats(self._generations, self._hits, self._shared, self._failures)

    def __len__(self) -> int:
        now, wall = self._clock(), self._wall()
        with self._lock:
            return sum(1 for token in self._entries.values() if token.fresh(now, wall, token.ttl))

    def __repr__(self) -> str:
        return f"TokenCache({len(self)} token(s))"

    # -- internals ------------------------------------------------------------------------------------------
    def _obtain(
        self, key: TokenKey, ttl: float, generate: Callable[[], str], rejected: Token | None
    ) -> tuple[Token, bool]:
        now, wall = self._clock(), self._wall()
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None and cached is not rejected and cached.fresh(now, wall, ttl):
                if rejected is None:
                    self._hits += 1
                    return cached, True
                return cached, False  # another thread replaced the rejected token already
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
            else:
                self._shared += 1
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise _copy(flight.error)
            assert flight.token is not None
            return flight.token, False
        try:
            value = generate()
        except BaseException as exc:
            with self._lock:
                self._failures += 1
                del self._flights[key]
            flight.error = exc
            flight.done.set()
            raise
        token = Token(value, self._clock(), self._wall(), ttl)
        with self._lock:
            self._generations += 1
            if ttl > 0:
                self._entries[key] = token
            else:
                self._entries.pop(key, None)
            del self._flights[key]
        flight.token = token
        flight.done.set()
        return token, False


def _copy(error: BaseException) -> BaseException:
    """The leader's error for a waiting thread: a copy, so that two threads never raise (and extend the traceback
    of) one exception object."""
    try:
        clone = copy.copy(error)
    except Exception:
        return error
    clone.__traceback__ = None
    clone.__cause__ = error.__cause__
    return clone


#: The process-wide cache every connection of the ``iam`` plugin uses; cleared by ``release_resources()``.
TOKENS = TokenCache()

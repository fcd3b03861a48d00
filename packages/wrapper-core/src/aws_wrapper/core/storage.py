"""Process-wide typed caches with expiry (topology, tokens, secrets, ...). No threads: expiry is checked on read."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["ExpiringCache", "StorageService", "STORAGE"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ExpiringCache(Generic[K, V]):
    """A thread-safe map whose entries expire ``ttl`` seconds after they were written (or last read, when
    ``sliding``)."""

    def __init__(self, ttl: float, *, sliding: bool = False) -> None:
        self.ttl = ttl
        self.sliding = sliding
        self._lock = threading.Lock()
        self._items: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        now = time.monotonic()
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                return None
            expires, value = entry
            if expires <= now:
                del self._items[key]
                return None
            if self.sliding:
                self._items[key] = (now + self.ttl, value)
            return value

    def put(self, key: K, value: V, ttl: float | None = None) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + (self.ttl if ttl is None else ttl), value)

    def get_or_create(self, key: K, factory: Callable[[], V]) -> V:
        """The cached value, or ``factory()`` stored and returned (called under the cache's lock: keep it quick)."""
        now = time.monotonic()
        with self._lock:
            entry = self._items.get(key)
            if entry is not None and entry[0] > now:
                return entry[1]
            value = factory()
            self._items[key] = (now + self.ttl, value)
            return value

    def remove(self, key: K) -> V | None:
        with self._lock:
            entry = self._items.pop(key, None)
        return None if entry is None else entry[1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        now = time.monotonic()
        with self._lock:
            return sum(1 for expires, _ in self._items.values() if expires > now)


class StorageService:
    """Named caches shared by every wrapper connection in the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._caches: dict[str, ExpiringCache[Any, Any]] = {}

    def cache(self, name: str, ttl: float, *, sliding: bool = False) -> ExpiringCache[Any, Any]:
        with self._lock:
            cache = self._caches.get(name)
            if cache is None:
                cache = self._caches[name] = ExpiringCache(ttl, sliding=sliding)
            return cache

    def clear(self) -> None:
        with self._lock:
            caches = list(self._caches.values())
        for cache in caches:
            cache.clear()


STORAGE = StorageService()

"""The lock shape the wrapper relies on (``threading.Lock`` and ``RLock`` both have it)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["AbstractLock"]


class AbstractLock(Protocol):
    def acquire(self, blocking: bool = ..., timeout: float = ...) -> bool: ...

    def release(self) -> None: ...

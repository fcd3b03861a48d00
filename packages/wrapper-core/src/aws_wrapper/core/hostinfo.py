"""Hosts as the wrapper sees them."""

from __future__ import annotations

import enum

from .records import field, record, replace

__all__ = ["HostRole", "HostAvailability", "HostInfo"]


class HostRole(enum.Enum):
    UNKNOWN = "unknown"
    WRITER = "writer"
    READER = "reader"


class HostAvailability(enum.Enum):
    AVAILABLE = "available"
    UNAVAILABLE = "unavailable"


@record(frozen=True)
class HostInfo:
    """An immutable description of one database instance. Use :meth:`with_` to derive a changed copy.

    Equality and hashing use host, port and role only.
    """

    host: str
    port: int = -1
    role: HostRole = HostRole.WRITER
    availability: HostAvailability = field(default=HostAvailability.AVAILABLE, compare=False)
    weight: int = field(default=100, compare=False)
    host_id: str | None = field(default=None, compare=False)
    last_update: float | None = field(default=None, compare=False)  # epoch seconds, from the topology row
    aliases: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def url(self) -> str:
        """``host:port`` (or ``host`` when no port is set): the key under which a host is tracked."""
        return f"{self.host}:{self.port}" if self.port > 0 else self.host

    @property
    def all_aliases(self) -> frozenset[str]:
        return self.aliases | {self.url}

    @property
    def is_available(self) -> bool:
        return self.availability is HostAvailability.AVAILABLE

    def with_(self, **changes: object) -> HostInfo:
        return replace(self, **changes)

    def __str__(self) -> str:
        return f"{self.url} ({self.role.value}{'' if self.is_available else ', unavailable'})"

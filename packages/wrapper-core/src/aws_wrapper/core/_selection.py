"""The host selection service of one wrapper connection (ABI 1.1): host filters, then a strategy from the plugin
pipeline (``accepts_strategy`` / ``get_host_info_by_strategy``) or from the registered strategies."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._pipeline import Pipelines
from .errors import UnsupportedOperationError
from .hostinfo import HostInfo, HostRole
from .selectors import NoHostAvailableError, eligible_hosts, known_strategy, select_host
from .services import HostFilter

__all__ = ["HostSelection"]


class HostSelection:
    """Implements :class:`aws_wrapper.core.services.HostSelectionService` for one wrapper connection."""

    def __init__(
        self,
        pipelines: Callable[[], Pipelines],
        topology: Callable[[], Sequence[HostInfo]],
        props: Mapping[str, Any],
    ) -> None:
        self._pipelines = pipelines
        self._topology = topology
        self._props = props
        self._filters: tuple[HostFilter, ...] = ()

    # -- filters ---------------------------------------------------------------------------------------------
    def add_filter(self, host_filter: HostFilter) -> None:
        self._filters = (*self._filters, host_filter)

    def remove_filter(self, host_filter: HostFilter) -> None:
        self._filters = tuple(f for f in self._filters if f is not host_filter)

    def allowed(self, hosts: Sequence[HostInfo]) -> tuple[HostInfo, ...]:
        filters = self._filters
        if not filters:
            return tuple(hosts)
        return tuple(h for h in hosts if all(f.allows(h) for f in filters))

    # -- strategies ------------------------------------------------------------------------------------------
    def accepts_strategy(self, role: HostRole, strategy: str) -> bool:
        return known_strategy(strategy) or self._pipelines().accepts_strategy(role, strategy)

    def select(self, role: HostRole, strategy: str, hosts: Sequence[HostInfo] | None = None) -> HostInfo:
        pool = self.allowed(self._topology() if hosts is None else hosts)
        candidates = eligible_hosts(pool, role)
        if not candidates:
            refused = "" if not self._filters else " allowed by this connection's host filters"
            raise NoHostAvailableError(
                f"no available {role.value} host{refused} to choose from with strategy {strategy!r} "
                f"(hosts: {', '.join(str(h) for h in pool) or 'none'})"
            )
        pipelines = self._pipelines()
        if pipelines.accepts_strategy(role, strategy):
            chosen = pipelines.get_host_info_by_strategy(role, strategy, candidates)
            if chosen is not None:
                return chosen
        if not known_strategy(strategy):
            raise UnsupportedOperationError(
                f"unsupported host selection strategy {strategy!r}: no installed strategy or plugin of this "
                "connection provides it"
            )
        return select_host(candidates, role, strategy, self._props)

    def order(self, role: HostRole, strategy: str, hosts: Sequence[HostInfo] | None = None) -> list[HostInfo]:
        """Allowed hosts of ``role``: the available ones in the order the strategy picks them, then those known
        to be down (they may be back)."""
        remaining = [h for h in self.allowed(self._topology() if hosts is None else hosts) if h.role is role]
        ordered: list[HostInfo] = []
        while remaining:
            try:
                chosen = self.select(role, strategy, remaining)
            except NoHostAvailableError:
                break
            ordered.append(chosen)
            remaining = [h for h in remaining if h.url != chosen.url]
        return ordered + remaining

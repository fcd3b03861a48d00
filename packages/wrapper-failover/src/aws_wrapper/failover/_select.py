"""Candidate order for reader searches, by host selection strategy (the core's selectors)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.hostinfo import HostInfo, HostRole
from aws_wrapper.core.selectors import SUPPORTED_STRATEGIES, NoHostAvailableError, select_host

__all__ = ["order_hosts", "check_strategy", "STRATEGIES"]

#: Strategies a plugin provides: failover races every candidate in parallel and takes the first that answers,
#: which is the fastest responder anyway, so these are accepted and order candidates randomly.
_PLUGIN_STRATEGIES = frozenset({"fastest_response"})
STRATEGIES = SUPPORTED_STRATEGIES | _PLUGIN_STRATEGIES


def _name(strategy: str) -> str:
    return strategy.strip().lower().replace("-", "_")


def check_strategy(strategy: str, setting: str) -> None:
    if _name(strategy) not in STRATEGIES:
        raise ConfigurationError(
            f"invalid value {strategy!r} for setting {setting!r}: expected one of {', '.join(sorted(STRATEGIES))}"
        )


def order_hosts(
    hosts: Sequence[HostInfo], role: HostRole, strategy: str, props: Mapping[str, object] | None = None
) -> list[HostInfo]:
    """``hosts`` (all of ``role``) in the order to prefer them: available hosts as the strategy picks them one
    after another, then the hosts known to be down (in random order: they may be back)."""
    name = _name(strategy)
    remaining = list(hosts)
    ordered: list[HostInfo] = []
    if name in SUPPORTED_STRATEGIES:
        while remaining:
            try:
                chosen = select_host(remaining, role, name, props)
            except NoHostAvailableError:
                break
            ordered.append(chosen)
            remaining = [h for h in remaining if h.url != chosen.url]
    random.shuffle(remaining)
    return ordered + remaining

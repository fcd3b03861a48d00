"""Host selection strategies (catalogue 4.5): ``random``, ``round_robin``, ``weighted_random``, ``highest_weight``.

Every strategy first keeps the hosts of the requested role that are available (their own availability and the
process-wide registry of hosts known to be down), then picks one::

    host = select_host(hosts, HostRole.READER, "round_robin", props)

Weights: ``round_robin_host_weight_pairs`` / ``weighted_random_host_weight_pairs`` are ``host:weight,...`` (the key
is compared with ``HostInfo.host``); hosts not listed get the ``..._default_weight``. ``highest_weight`` uses
``HostInfo.weight`` (topology hosts derive it from their load).

Round-robin position is kept per host set in a bounded, expiring table (no unbounded class-level maps).
"""

from __future__ import annotations

import random as _random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from .errors import AwsWrapperError, ConfigurationError, UnsupportedOperationError
from .host_list import AVAILABILITY
from .hostinfo import HostInfo, HostRole
from .lifecycle import on_release
from .settings import Setting, integer, text

__all__ = [
    "SUPPORTED_STRATEGIES",
    "SELECTOR_SETTINGS",
    "NoHostAvailableError",
    "select_host",
    "eligible_hosts",
    "reset_round_robin",
]

SUPPORTED_STRATEGIES = frozenset({"random", "round_robin", "weighted_random", "highest_weight"})

ROUND_ROBIN_HOST_WEIGHT_PAIRS = text(
    "round_robin_host_weight_pairs", "", "round_robin: 'host:weight,...' (weights >= 1)."
)
ROUND_ROBIN_DEFAULT_WEIGHT = integer(
    "round_robin_default_weight", 1, "round_robin: weight of hosts not listed in the pairs.", min=1
)
WEIGHTED_RANDOM_HOST_WEIGHT_PAIRS = text(
    "weighted_random_host_weight_pairs", "", "weighted_random: 'host:weight,...' (weights >= 1)."
)
WEIGHTED_RANDOM_DEFAULT_WEIGHT = integer(
    "weighted_random_default_weight", 1, "weighted_random: weight of hosts not listed in the pairs.", min=1
)
SELECTOR_SETTINGS: tuple[Setting[Any], ...] = (
    ROUND_ROBIN_HOST_WEIGHT_PAIRS,
    ROUND_ROBIN_DEFAULT_WEIGHT,
    WEIGHTED_RANDOM_HOST_WEIGHT_PAIRS,
    WEIGHTED_RANDOM_DEFAULT_WEIGHT,
)

_ROUND_ROBIN_MAX_ENTRIES = 1024
_ROUND_ROBIN_TTL_S = 600.0


class NoHostAvailableError(AwsWrapperError):
    """No host of the requested role is available."""


def eligible_hosts(hosts: Sequence[HostInfo], role: HostRole) -> list[HostInfo]:
    """The hosts of ``role`` that are available (and not marked down process-wide)."""
    is_down = AVAILABILITY.is_down
    return [h for h in hosts if h.role is role and h.is_available and not is_down(h)]


def select_host(
    hosts: Sequence[HostInfo],
    role: HostRole,
    strategy: str,
    props: Mapping[str, object] | None = None,
    *,
    rng: _random.Random | None = None,
) -> HostInfo:
    """One host of ``role`` chosen with ``strategy``.

    Raises :class:`UnsupportedOperationError` for an unknown strategy, :class:`ConfigurationError` for malformed
    weight settings and :class:`NoHostAvailableError` when no host qualifies.
    """
    name = strategy.strip().lower().replace("-", "_")
    pick = _STRATEGIES.get(name)
    if pick is None:
        raise UnsupportedOperationError(
            f"unsupported host selection strategy {strategy!r}: "
            f"expected one of {', '.join(sorted(SUPPORTED_STRATEGIES))}"
        )
    candidates = eligible_hosts(hosts, role)
    if not candidates:
        raise NoHostAvailableError(
            f"no available {role.value} host to choose from with strategy {name!r} "
            f"(hosts: {', '.join(str(h) for h in hosts) or 'none'})"
        )
    return pick(candidates, hosts, role, props or {}, rng or _RNG)


_RNG = _random.Random()
_Pick = Callable[
    [list[HostInfo], Sequence[HostInfo], HostRole, Mapping[str, object], _random.Random], HostInfo
]


def _random_pick(
    candidates: list[HostInfo],
    hosts: Sequence[HostInfo],
    role: HostRole,
    props: Mapping[str, object],
    rng: _random.Random,
) -> HostInfo:
    return rng.choice(candidates)


def _highest_weight(
    candidates: list[HostInfo],
    hosts: Sequence[HostInfo],
    role: HostRole,
    props: Mapping[str, object],
    rng: _random.Random,
) -> HostInfo:
    return min(candidates, key=lambda h: (-h.weight, h.url))


def _weighted_random(
    candidates: list[HostInfo],
    hosts: Sequence[HostInfo],
    role: HostRole,
    props: Mapping[str, object],
    rng: _random.Random,
) -> HostInfo:
    weights = _weights(props, WEIGHTED_RANDOM_HOST_WEIGHT_PAIRS, WEIGHTED_RANDOM_DEFAULT_WEIGHT)
    return rng.choices(candidates, [weights(h) for h in candidates])[0]


class _RoundRobinTable:
    """Position per host set: (last host url, uses left), bounded in size and age."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, ...], tuple[float, str, int]] = OrderedDict()

    def next(
        self, key: tuple[str, ...], ordered: list[HostInfo], weight: Callable[[HostInfo], int]
    ) -> HostInfo:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is not None and now - entry[0] > _ROUND_ROBIN_TTL_S:
                entry = None
            if entry is None:
                chosen = ordered[0]
                left = weight(chosen) - 1
            else:
                _, last, left = entry
                index = next((i for i, h in enumerate(ordered) if h.url == last), None)
                if index is not None and left > 0:
                    chosen, left = ordered[index], left - 1  # a host of weight w is used w times in a row
                else:
                    if index is not None:
                        chosen = ordered[(index + 1) % len(ordered)]
                    else:  # the last host is not eligible now: the next one after it in name order
                        chosen = next((h for h in ordered if h.url > last), ordered[0])
                    left = weight(chosen) - 1
            self._entries[key] = (now, chosen.url, left)
            while len(self._entries) > _ROUND_ROBIN_MAX_ENTRIES:
                self._entries.popitem(last=False)
            return chosen

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_ROUND_ROBIN = _RoundRobinTable()


def _round_robin(
    candidates: list[HostInfo],
    hosts: Sequence[HostInfo],
    role: HostRole,
    props: Mapping[str, object],
    rng: _random.Random,
) -> HostInfo:
    weights = _weights(props, ROUND_ROBIN_HOST_WEIGHT_PAIRS, ROUND_ROBIN_DEFAULT_WEIGHT)
    ordered = sorted(candidates, key=lambda h: h.url)
    key = (
        role.value,
        *sorted(h.url for h in hosts),
    )  # the whole set, so availability changes keep the position
    return _ROUND_ROBIN.next(key, ordered, weights)


@on_release
def reset_round_robin() -> None:
    """Forget every round-robin position (tests; also cleared by ``release_resources``)."""
    _ROUND_ROBIN.clear()


_STRATEGIES: dict[str, _Pick] = {
    "random": _random_pick,
    "round_robin": _round_robin,
    "weighted_random": _weighted_random,
    "highest_weight": _highest_weight,
}


def _weights(
    props: Mapping[str, object], pairs: Setting[str], default: Setting[int]
) -> Callable[[HostInfo], int]:
    table = _parse_pairs(pairs.get(props), pairs.name)
    fallback = default.get(props)
    return lambda host: table.get(host.host, fallback)


@lru_cache(maxsize=64)
def _parse_pairs(raw: str, setting: str) -> dict[str, int]:
    table: dict[str, int] = {}
    for entry in raw.split(","):
        entry = entry.strip()
        if not entry:
            continue
        host, sep, weight_text = entry.rpartition(":")
        host = host.strip()
        try:
            weight = int(weight_text.strip())
        except ValueError:
            weight = 0
        if not sep or not host or weight < 1:
            raise ConfigurationError(
                f"invalid value {raw!r} for setting {setting!r}: entry {entry!r} is not 'host:weight' "
                "with an integer weight >= 1"
            )
        table[host] = weight
    return table

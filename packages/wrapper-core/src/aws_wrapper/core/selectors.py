"""Host selection strategies (catalogue 4.5): ``random``, ``round_robin``, ``weighted_random``, ``highest_weight``,
and ``least_connections`` (open wrapper connections per host in this process); more are registered by
distributions (entry-point group ``aws_wrapper.host_selectors``) or with :func:`register_strategy`.

Every strategy first keeps the hosts of the requested role that are available (their own availability and the
process-wide registry of hosts known to be down), then picks one::

    host = select_host(hosts, HostRole.READER, "round_robin", props)

Weights: ``round_robin_host_weight_pairs`` / ``weighted_random_host_weight_pairs`` are ``host:weight,...`` (the key
is compared with ``HostInfo.host``); hosts not listed get the ``..._default_weight``. Without those settings
``weighted_random`` uses ``HostInfo.weight``, as ``highest_weight`` does (topology hosts derive it from their load).

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
    "STRATEGY_ENTRY_POINT_GROUP",
    "CONNECTION_COUNTS",
    "Strategy",
    "register_strategy",
    "known_strategy",
    "SELECTOR_SETTINGS",
    "NoHostAvailableError",
    "select_host",
    "eligible_hosts",
    "reset_round_robin",
]

SUPPORTED_STRATEGIES = frozenset(
    {"random", "round_robin", "weighted_random", "highest_weight", "least_connections"}
)
#: Entry-point group where distributions register host selection strategies (name = strategy, object = a
#: :data:`Strategy` callable); loaded on the first request for a strategy core does not know.
STRATEGY_ENTRY_POINT_GROUP = "aws_wrapper.host_selectors"

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
    name = _canonical(strategy)
    pick = _lookup(name)
    if pick is None:
        raise UnsupportedOperationError(
            f"unsupported host selection strategy {strategy!r}: "
            f"expected one of {', '.join(sorted(_STRATEGIES))}"
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
#: A strategy: ``(candidates, all_hosts, role, props, rng) -> chosen``. ``candidates`` (never empty) are the
#: available hosts of ``role`` that the connection's filters allow; ``all_hosts`` the whole list it was asked on.
Strategy = _Pick


def _canonical(strategy: str) -> str:
    return strategy.strip().lower().replace("-", "_")


def register_strategy(name: str, pick: Strategy, *, replace: bool = False) -> None:
    """Make ``name`` a host selection strategy everywhere (``select_host``, failover's reader order, every
    plugin using the selection service). Core's own names cannot be replaced; another name only with
    ``replace``."""
    key = _canonical(name)
    with _STRATEGY_LOCK:
        if key in _BUILTIN or (key in _STRATEGIES and not replace):
            raise ConfigurationError(f"host selection strategy {name!r} is already registered")
        _STRATEGIES[key] = pick


def known_strategy(name: str) -> bool:
    return _lookup(_canonical(name)) is not None


def _lookup(name: str) -> Strategy | None:
    pick = _STRATEGIES.get(name)
    if pick is None and not _ENTRY_POINTS_LOADED:
        _load_entry_points()
        pick = _STRATEGIES.get(name)
    return pick


def _load_entry_points() -> None:
    global _ENTRY_POINTS_LOADED
    with _STRATEGY_LOCK:
        if _ENTRY_POINTS_LOADED:
            return
        from .registry import REGISTRY  # one scan of the installed distributions serves every group

        for ep in REGISTRY.entry_points(STRATEGY_ENTRY_POINT_GROUP):
            key = _canonical(ep.name)
            if key in _STRATEGIES:
                continue
            try:
                pick = ep.load()
            except Exception as exc:  # one broken distribution must not break the others
                import logging

                logging.getLogger("aws_wrapper.core").warning(
                    "host selection strategy %r (%s) could not be loaded: %s", ep.name, ep.value, exc
                )
                continue
            if callable(pick):
                _STRATEGIES[key] = pick
        _ENTRY_POINTS_LOADED = True


_STRATEGY_LOCK = threading.Lock()
_ENTRY_POINTS_LOADED = False


class _ConnectionCounts:
    """Open wrapper connections per host url in this process (``least_connections``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def opened(self, url: str) -> None:
        with self._lock:
            self._counts[url] = self._counts.get(url, 0) + 1

    def closed(self, url: str) -> None:
        with self._lock:
            left = self._counts.get(url, 0) - 1
            if left > 0:
                self._counts[url] = left
            else:
                self._counts.pop(url, None)

    def get(self, url: str) -> int:
        return self._counts.get(url, 0)


CONNECTION_COUNTS = _ConnectionCounts()


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
    if WEIGHTED_RANDOM_HOST_WEIGHT_PAIRS.get(props) or WEIGHTED_RANDOM_DEFAULT_WEIGHT.name in props:
        weights = _weights(props, WEIGHTED_RANDOM_HOST_WEIGHT_PAIRS, WEIGHTED_RANDOM_DEFAULT_WEIGHT)
        return rng.choices(candidates, [weights(h) for h in candidates])[0]
    # no weights configured: the hosts' own weights (topology hosts derive theirs from their load)
    return rng.choices(candidates, [max(h.weight, 1) for h in candidates])[0]


def _least_connections(
    candidates: list[HostInfo],
    hosts: Sequence[HostInfo],
    role: HostRole,
    props: Mapping[str, object],
    rng: _random.Random,
) -> HostInfo:
    count = CONNECTION_COUNTS.get
    fewest = min(count(h.url) for h in candidates)
    return rng.choice([h for h in candidates if count(h.url) == fewest])


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
    "least_connections": _least_connections,
}
_BUILTIN = frozenset(_STRATEGIES)


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

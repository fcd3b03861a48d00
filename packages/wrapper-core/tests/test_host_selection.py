"""The host selection service (ABI 1.1): filters, registered strategies, pipeline strategies, least_connections,
weighted_random with the hosts' own weights."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence

import pytest

from aws_wrapper.core import ConfigurationError, HostInfo, Plugin
from aws_wrapper.core._pipeline import Pipelines
from aws_wrapper.core._selection import HostSelection
from aws_wrapper.core.errors import UnsupportedOperationError
from aws_wrapper.core.hostinfo import HostRole
from aws_wrapper.core.selectors import (
    _STRATEGIES,
    CONNECTION_COUNTS,
    NoHostAvailableError,
    register_strategy,
    select_host,
)

R, W = HostRole.READER, HostRole.WRITER


def _hosts() -> tuple[HostInfo, ...]:
    return (HostInfo("w", 1, W), HostInfo("r1", 1, R, weight=1), HostInfo("r2", 1, R, weight=1000))


class _Only:
    def __init__(self, *urls: str) -> None:
        self.urls = set(urls)

    def allows(self, host: HostInfo) -> bool:
        return host.url in self.urls


class _FirstUrl(Plugin):
    def accepts_strategy(self, role: HostRole, strategy: str) -> bool:
        return strategy == "first_url"

    def get_host_info_by_strategy(
        self, role: HostRole, strategy: str, hosts: Sequence[HostInfo]
    ) -> HostInfo | None:
        return min(hosts, key=lambda h: h.url)


def _selection(*plugins: Plugin) -> HostSelection:
    pipes = Pipelines(plugins)
    return HostSelection(lambda: pipes, _hosts, {})


def test_filters_apply_to_select_order_and_allowed() -> None:
    sel = _selection()
    only = _Only("r1:1")
    sel.add_filter(only)
    assert [h.url for h in sel.allowed(_hosts())] == ["r1:1"]
    assert all(sel.select(R, "random").url == "r1:1" for _ in range(20))
    assert [h.url for h in sel.order(R, "highest_weight")] == ["r1:1"]
    with pytest.raises(NoHostAvailableError, match="host filters"):
        sel.select(W, "random")
    sel.remove_filter(only)
    assert sel.select(R, "highest_weight").url == "r2:1"


def test_a_plugin_strategy_is_used_through_the_pipeline() -> None:
    assert _selection(_FirstUrl()).select(R, "first_url").url == "r1:1"
    assert _selection(_FirstUrl()).accepts_strategy(R, "first_url")
    assert not _selection().accepts_strategy(R, "first_url")
    with pytest.raises(UnsupportedOperationError, match="first_url"):
        _selection().select(R, "first_url")


def test_registered_strategies_are_known_everywhere() -> None:
    def last(
        candidates: list[HostInfo],
        hosts: Sequence[HostInfo],
        role: HostRole,
        props: Mapping[str, object],
        rng: random.Random,
    ) -> HostInfo:
        return max(candidates, key=lambda h: h.url)

    register_strategy("unit_last", last)
    try:
        assert _selection().select(R, "unit-last").url == "r2:1"
        assert select_host(_hosts(), R, "unit_last").url == "r2:1"
        with pytest.raises(ConfigurationError, match="already registered"):
            register_strategy("unit_last", last)
        with pytest.raises(ConfigurationError, match="already registered"):
            register_strategy("random", last, replace=True)  # core's own cannot be replaced
    finally:
        _STRATEGIES.pop("unit_last", None)


def test_weighted_random_honours_host_weights_without_settings() -> None:
    rng = random.Random(7)
    counts = Counter(select_host(_hosts(), R, "weighted_random", rng=rng).host for _ in range(2000))
    assert counts["r2"] > 1900  # weight 1000 against 1


def test_least_connections_prefers_the_emptiest_host() -> None:
    for _ in range(3):
        CONNECTION_COUNTS.opened("r2:1")
    try:
        assert {select_host(_hosts(), R, "least_connections").url for _ in range(20)} == {"r1:1"}
        CONNECTION_COUNTS.opened("r1:1")
        CONNECTION_COUNTS.opened("r1:1")
        CONNECTION_COUNTS.opened("r1:1")
        CONNECTION_COUNTS.opened("r1:1")
        assert {select_host(_hosts(), R, "least_connections").url for _ in range(20)} == {"r2:1"}
    finally:
        for _ in range(3):
            CONNECTION_COUNTS.closed("r2:1")
        for _ in range(4):
            CONNECTION_COUNTS.closed("r1:1")
    assert CONNECTION_COUNTS.get("r1:1") == CONNECTION_COUNTS.get("r2:1") == 0

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

import pytest

from aws_wrapper.core.errors import ConfigurationError, UnsupportedOperationError
from aws_wrapper.core.host_list import AVAILABILITY
from aws_wrapper.core.hostinfo import HostAvailability, HostInfo, HostRole
from aws_wrapper.core.selectors import (
    _ROUND_ROBIN,
    SUPPORTED_STRATEGIES,
    NoHostAvailableError,
    reset_round_robin,
    select_host,
)

W, R = HostRole.WRITER, HostRole.READER


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    reset_round_robin()
    AVAILABILITY.clear()
    yield
    reset_round_robin()
    AVAILABILITY.clear()


def _hosts() -> list[HostInfo]:
    return [
        HostInfo("w", 5432, W, weight=100),
        HostInfo("r3", 5432, R, weight=40),
        HostInfo("r1", 5432, R, weight=90),
        HostInfo("r2", 5432, R, weight=90),
        HostInfo("down", 5432, R, HostAvailability.UNAVAILABLE, weight=100),
    ]


def test_supported_strategies() -> None:
    assert {
        "random",
        "round_robin",
        "weighted_random",
        "highest_weight",
        "least_connections",
    } == SUPPORTED_STRATEGIES


@pytest.mark.parametrize("strategy", sorted(SUPPORTED_STRATEGIES))
def test_every_strategy_filters_role_and_availability(strategy: str) -> None:
    AVAILABILITY.set(["r2:5432"], HostAvailability.UNAVAILABLE)  # marked down process-wide
    seen = {select_host(_hosts(), R, strategy, rng=random.Random(i)).host for i in range(60)}
    assert seen <= {"r1", "r3"}
    assert select_host(_hosts(), W, strategy).host == "w"


def test_random_is_uniform_enough() -> None:
    rng = random.Random(7)
    counts = Counter(select_host(_hosts(), R, "random", rng=rng).host for _ in range(3000))
    assert set(counts) == {"r1", "r2", "r3"}
    assert min(counts.values()) > 800


def test_highest_weight_ties_break_by_name() -> None:
    assert select_host(_hosts(), R, "highest_weight").host == "r1"


def test_round_robin_in_name_order_with_weights() -> None:
    props = {"round_robin_host_weight_pairs": "r2:3", "round_robin_default_weight": "1"}
    picks = [select_host(_hosts(), R, "round_robin", props).host for _ in range(10)]
    assert picks == ["r1", "r2", "r2", "r2", "r3", "r1", "r2", "r2", "r2", "r3"]


def test_round_robin_skips_a_host_that_went_down_and_keeps_position() -> None:
    hosts = _hosts()
    assert [select_host(hosts, R, "round_robin").host for _ in range(2)] == ["r1", "r2"]
    AVAILABILITY.set(["r3:5432"], HostAvailability.UNAVAILABLE)
    assert select_host(hosts, R, "round_robin").host == "r1"
    AVAILABILITY.clear()
    assert select_host(hosts, R, "round_robin").host == "r2"


def test_round_robin_state_is_bounded() -> None:
    for i in range(1500):
        select_host([HostInfo(f"h{i}", 1, R)], R, "round_robin")
    assert len(_ROUND_ROBIN) <= 1024


def test_weighted_random_follows_weights() -> None:
    props = {"weighted_random_host_weight_pairs": "r1:8,r2:1", "weighted_random_default_weight": 1}
    rng = random.Random(3)
    counts = Counter(select_host(_hosts(), R, "weighted_random", props, rng=rng).host for _ in range(5000))
    assert counts["r1"] > 5 * counts["r2"]
    assert counts["r3"] > 0


def test_no_eligible_host_is_a_clear_error() -> None:
    with pytest.raises(NoHostAvailableError, match="no available reader host"):
        select_host([HostInfo("w", 1, W)], R, "random")
    with pytest.raises(NoHostAvailableError):
        select_host([], W, "highest_weight")


def test_unknown_strategy() -> None:
    with pytest.raises(UnsupportedOperationError, match="'fastest'"):
        select_host(_hosts(), R, "fastest")
    assert select_host(_hosts(), R, "Round-Robin").role is R  # spelling variants are accepted


@pytest.mark.parametrize("pairs", ["r1", "r1:0", "r1:x", ":3", "r1:2,r2"])
def test_malformed_weight_pairs(pairs: str) -> None:
    with pytest.raises(ConfigurationError, match="round_robin_host_weight_pairs"):
        select_host(_hosts(), R, "round_robin", {"round_robin_host_weight_pairs": pairs})


def test_default_weight_is_validated() -> None:
    with pytest.raises(ConfigurationError, match="weighted_random_default_weight"):
        select_host(_hosts(), R, "weighted_random", {"weighted_random_default_weight": "0"})

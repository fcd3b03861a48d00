"""The parallel candidate race and the transaction-state helper."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from aws_wrapper.core.hostinfo import HostInfo, HostRole
from aws_wrapper.failover._race import Candidate, race
from aws_wrapper.failover._txstate import was_in_transaction

from ._fakes import FakeConn, FakeNetworkError, Timer


def host(name: str) -> HostInfo:
    return HostInfo(name, 5432, HostRole.READER)


class Opener:
    """Connects after a per-host delay, or fails."""

    def __init__(
        self,
        delays: dict[str, float],
        failing: frozenset[str] = frozenset(),
        roles: dict[str, HostRole] | None = None,
    ) -> None:
        self.delays = delays
        self.failing = failing
        self.roles = roles or {}
        self.opened: list[FakeConn] = []
        self.lock = threading.Lock()

    def __call__(self, h: HostInfo) -> tuple[Any, HostRole]:
        time.sleep(self.delays.get(h.host, 0.0))
        if h.host in self.failing:
            raise FakeNetworkError(f"{h.host} refused")
        role = self.roles.get(h.host, HostRole.READER)
        conn = FakeConn(h, role)
        with self.lock:
            self.opened.append(conn)
        return conn, role


def close(conn: FakeConn) -> None:
    conn.closed = True


def accept_all(c: Candidate, role: HostRole) -> bool:
    return True


def test_first_answer_of_equal_rank_wins_and_the_rest_are_closed() -> None:
    opener = Opener({"a": 0.2, "b": 0.0, "c": 0.3})
    outcome = race([Candidate(host(n), 0) for n in "abc"], opener, accept_all, close, time.monotonic() + 5)
    assert outcome is not None
    assert outcome.candidate.host.host == "b"
    time.sleep(0.5)  # the late ones arrive after the decision
    assert len(opener.opened) == 3
    assert [c.closed for c in opener.opened if c.host.host != "b"] == [True, True]
    assert not outcome.conn.closed


def test_better_rank_is_awaited() -> None:
    opener = Opener({"reader": 0.2, "writer": 0.0})
    timer = Timer()
    outcome = race(
        [Candidate(host("reader"), 0), Candidate(host("writer"), 1)],
        opener,
        accept_all,
        close,
        time.monotonic() + 5,
    )
    assert outcome is not None
    assert outcome.candidate.host.host == "reader"
    assert timer.elapsed >= 0.19
    writer = [c for c in opener.opened if c.host.host == "writer"]
    assert writer[0].closed


def test_patience_bounds_the_wait_for_a_better_rank() -> None:
    opener = Opener({"reader": 2.0, "writer": 0.0})
    timer = Timer()
    outcome = race(
        [Candidate(host("reader"), 0), Candidate(host("writer"), 1)],
        opener,
        accept_all,
        close,
        time.monotonic() + 5,
        patience=0.2,
    )
    assert outcome is not None
    assert outcome.candidate.host.host == "writer"
    assert timer.elapsed < 1.0


def test_refused_roles_are_closed_and_failures_collected() -> None:
    opener = Opener({}, failing=frozenset({"x"}), roles={"w": HostRole.WRITER})
    errors: list[BaseException] = []
    outcome = race(
        [Candidate(host("x"), 0), Candidate(host("w"), 0)],
        opener,
        lambda c, role: role is HostRole.READER,
        close,
        time.monotonic() + 5,
        errors,
    )
    assert outcome is None
    assert [type(e) for e in errors] == [FakeNetworkError]
    assert all(c.closed for c in opener.opened)


def test_deadline_returns_while_attempts_hang() -> None:
    opener = Opener({"slow": 1.0})
    timer = Timer()
    assert race([Candidate(host("slow"), 0)], opener, accept_all, close, time.monotonic() + 0.2) is None
    assert timer.elapsed < 0.5
    time.sleep(1.0)
    assert opener.opened
    assert opener.opened[0].closed


def test_no_candidates() -> None:
    assert race([], Opener({}), accept_all, close, time.monotonic() + 1) is None


@pytest.mark.parametrize(
    ("sampled", "driver_says", "expected"),
    [
        (0, True, False),  # IDLE before the call: the broken connection's "unknown" does not matter
        (2, False, True),  # INTRANS
        (3, False, True),  # INERROR
        (4, False, False),  # UNKNOWN: ask the driver
        (None, True, True),  # no sample (not psycopg): the driver's view
        (None, False, False),
    ],
)
def test_transaction_state(sampled: object, driver_says: bool, expected: bool) -> None:
    assert was_in_transaction(sampled, lambda: driver_says) is expected


def test_transaction_state_when_the_driver_cannot_tell() -> None:
    def broken() -> bool:
        raise FakeNetworkError("gone")

    assert was_in_transaction(None, broken) is True

"""Parallel connection attempts to failover candidates.

Every candidate gets its own short-lived daemon thread that connects and checks the role of what it reached. The
caller takes the best acceptable answer: candidates carry a rank (0 is preferred), and an answer is taken as soon
as no better-ranked attempt is still running. Losing connections are closed, including those that arrive after
the race was decided, so nothing leaks. Nothing here sleeps in a loop: the caller waits on a queue.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from aws_wrapper.core.hostinfo import HostInfo, HostRole
from aws_wrapper.core.records import record

__all__ = ["Candidate", "Outcome", "race"]

logger = logging.getLogger("aws_wrapper.failover.failover_plugin")
#: How often a cancellable race checks whether it was cancelled.
_SLICE = 0.05


@record(frozen=True)
class Candidate:
    host: HostInfo
    rank: int  # lower is preferred


@record(frozen=True)
class Outcome:
    """A finished attempt: ``conn`` and ``role`` on success, ``error`` otherwise."""

    candidate: Candidate
    conn: Any = None
    role: HostRole | None = None
    error: BaseException | None = None


class _Race:
    def __init__(self, close: Callable[[Any], None]) -> None:
        self.lock = threading.Lock()
        self.decided = False
        self.results: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self.close = close

    def deliver(self, outcome: Outcome) -> None:
        with self.lock:
            if not self.decided:
                self.results.put(outcome)
                return
        if outcome.conn is not None:  # too late: nobody will take it
            self.close(outcome.conn)

    def finish(self) -> None:
        with self.lock:
            self.decided = True
        while True:  # close what arrived between the decision and now
            try:
                late = self.results.get_nowait()
            except queue.Empty:
                return
            if late.conn is not None:
                self.close(late.conn)


def race(
    candidates: Sequence[Candidate],
    attempt: Callable[[HostInfo], tuple[Any, HostRole]],
    accept: Callable[[Candidate, HostRole], bool],
    close: Callable[[Any], None],
    deadline: float,
    errors: list[BaseException] | None = None,
    patience: float | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Outcome | None:
    """Try every candidate at once; return the best accepted outcome, or None when every attempt failed or was
    refused, or ``deadline`` (``time.monotonic()``) passed. ``attempt`` opens and role-checks one connection (it
    must bound its own duration); refused connections are closed. Failures are appended to ``errors``. Once an
    outcome is accepted, better-ranked attempts still running get at most ``patience`` more seconds (None: until
    they finish). ``cancelled`` (checked at least every 50 ms) ends the race early, with None."""
    if not candidates:
        return None
    state = _Race(close)
    for candidate in candidates:
        thread = threading.Thread(
            target=_run,
            args=(state, candidate, attempt),
            name=f"aws-wrapper-failover-connect-{candidate.host.url}",
            daemon=True,
        )
        thread.start()

    pending = {id(c): c for c in candidates}
    best: Outcome | None = None
    settle_by = deadline
    try:
        while pending:
            if best is not None and all(c.rank >= best.candidate.rank for c in pending.values()):
                break  # nothing better can still arrive
            limit = deadline
            if best is not None and patience is not None:
                limit = min(deadline, settle_by)
            remaining = limit - time.monotonic()
            if remaining <= 0 or (cancelled is not None and cancelled()):
                break
            try:
                outcome = state.results.get(
                    timeout=remaining if cancelled is None else min(remaining, _SLICE)
                )
            except queue.Empty:
                if cancelled is not None and time.monotonic() < limit and not cancelled():
                    continue
                break
            pending.pop(id(outcome.candidate), None)
            if outcome.conn is None:
                if errors is not None and outcome.error is not None:
                    errors.append(outcome.error)
                continue
            assert outcome.role is not None
            if not accept(outcome.candidate, outcome.role):
                close(outcome.conn)
                continue
            if best is None or outcome.candidate.rank < best.candidate.rank:
                if best is None and patience is not None:
                    settle_by = time.monotonic() + patience
                if best is not None:
                    close(best.conn)
                best = outcome
            else:
                close(outcome.conn)
    finally:
        state.finish()
    if best is not None and cancelled is not None and cancelled():
        close(best.conn)
        return None
    return best


def _run(state: _Race, candidate: Candidate, attempt: Callable[[HostInfo], tuple[Any, HostRole]]) -> None:
    try:
        conn, role = attempt(candidate.host)
    except BaseException as exc:  # reported to the caller, never raised on this thread
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("failover attempt to %s failed: %s", candidate.host.url, exc)
        state.deliver(Outcome(candidate, error=exc))
        return
    state.deliver(Outcome(candidate, conn=conn, role=role))

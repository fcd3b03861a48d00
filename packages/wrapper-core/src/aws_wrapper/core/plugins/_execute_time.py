"""``execute_time``: how long each wrapped DB-API call takes, per method."""

from __future__ import annotations

import logging
from typing import TypeVar

from ..methods import ALL_METHODS, DbApiMethod
from ..plugin import Plugin, PluginFactory
from ..services import PluginContext
from ._calls_async import ExecuteTimeCallsAsync
from ._calls_sync import ExecuteTimeCalls

__all__ = ["ExecuteTimePlugin", "ExecuteTimePluginFactory"]

logger = logging.getLogger("aws_wrapper.core.plugins.execute_time_plugin")
T = TypeVar("T")


class ExecuteTimePlugin(ExecuteTimeCallsAsync, ExecuteTimeCalls):
    """Times every wrapped DB-API call (including the pipeline below it and the driver).

    Read the figures with ``conn.plugin(ExecuteTimePlugin)``: ``counts[method]``, ``totals_ns[method]``,
    ``last_ns`` and ``last_method``; :meth:`reset` starts over.
    """

    subscribed_methods = ALL_METHODS

    def __init__(self) -> None:
        self.counts: dict[DbApiMethod, int] = {}
        self.totals_ns: dict[DbApiMethod, int] = {}
        self.last_ns = 0
        self.last_method: DbApiMethod | None = None

    def _record(self, method: DbApiMethod, elapsed_ns: int) -> None:
        self.last_ns = elapsed_ns
        self.last_method = method
        counts = self.counts
        counts[method] = counts.get(method, 0) + 1
        totals = self.totals_ns
        totals[method] = totals.get(method, 0) + elapsed_ns
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s took %.3f ms", method.api_name, elapsed_ns / 1e6)

    def total_ns(self, method: DbApiMethod | None = None) -> int:
        """Time spent in ``method`` (every method when None)."""
        if method is None:
            return sum(self.totals_ns.values())
        return self.totals_ns.get(method, 0)

    def count(self, method: DbApiMethod | None = None) -> int:
        """Calls of ``method`` (every method when None)."""
        if method is None:
            return sum(self.counts.values())
        return self.counts.get(method, 0)

    def reset(self) -> None:
        self.counts.clear()
        self.totals_ns.clear()
        self.last_ns = 0
        self.last_method = None


class ExecuteTimePluginFactory(PluginFactory):
    code = "execute_time"

    def create(self, context: PluginContext) -> Plugin:
        return ExecuteTimePlugin()

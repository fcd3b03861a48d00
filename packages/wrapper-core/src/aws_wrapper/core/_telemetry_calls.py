"""The top-level span of every wrapped DB-API call, for connections that enable telemetry.

Imported only when a connection's telemetry factory is enabled (see ``Runtime.install_plugins``): with telemetry
off the plugin list, and so every compiled chain, is exactly what it is without this module. The per-call hook is
written once, in ``_telemetry_calls_async.py``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from ._telemetry_calls_async import CallSpanCallsAsync
from ._telemetry_calls_sync import CallSpanCalls
from .methods import ALL_METHODS
from .telemetry import TelemetryFactory

__all__ = ["CallSpanPlugin"]


class CallSpanPlugin(CallSpanCallsAsync, CallSpanCalls):
    """Opens a span named after the DB-API method (``Cursor.execute``, upstream's names), asking for a trace of
    its own (``top_level=True``, honoured with ``telemetry_submit_toplevel``), with the attribute ``python_call``,
    around the whole pipeline of the call: plugin spans (failover, ...) nest inside it. Core puts it first."""

    subscribed_methods = ALL_METHODS

    def __init__(self, telemetry: TelemetryFactory) -> None:
        self._open = telemetry.open_span

    def _span(self, name: str) -> AbstractContextManager[Any]:
        return self._open(name, top_level=True)

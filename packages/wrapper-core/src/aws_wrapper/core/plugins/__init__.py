"""The small plugins shipped with core: ``connect_time``, ``execute_time`` and ``dev``.

All three have a relative weight: in an auto-sorted ``plugins`` list each sits right after the plugin written
before it. Reach an instance with ``conn.plugin(ExecuteTimePlugin)``.
"""

from __future__ import annotations

from ._connect_time import ConnectTimePlugin, ConnectTimePluginFactory
from ._dev import (
    ConnectCallback,
    DevPlugin,
    DevPluginFactory,
    ExceptionSimulatorManager,
    MethodCallback,
)
from ._execute_time import ExecuteTimePlugin, ExecuteTimePluginFactory

__all__ = [
    "ConnectTimePlugin",
    "ConnectTimePluginFactory",
    "ExecuteTimePlugin",
    "ExecuteTimePluginFactory",
    "DevPlugin",
    "DevPluginFactory",
    "ExceptionSimulatorManager",
    "ConnectCallback",
    "MethodCallback",
]

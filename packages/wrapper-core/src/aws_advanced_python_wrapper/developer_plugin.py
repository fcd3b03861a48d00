"""Upstream's ``aws_advanced_python_wrapper.developer_plugin`` path (fault injection for the ``dev`` plugin)."""

from __future__ import annotations

from aws_wrapper.core.plugins import DevPlugin, ExceptionSimulatorManager

DeveloperPlugin = DevPlugin

__all__ = ["DeveloperPlugin", "ExceptionSimulatorManager"]

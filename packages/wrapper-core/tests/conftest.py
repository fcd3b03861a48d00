from __future__ import annotations

from collections.abc import Iterator

import pytest

from aws_wrapper.core import _connection, _runtime
from aws_wrapper.core.plugin import PluginFactory
from aws_wrapper.core.plugins import ExceptionSimulatorManager
from aws_wrapper.core.registry import PluginRegistry
from aws_wrapper.core.session_state import SessionStateTransferHandlers

from ._fakes import FakeDriver, UseRegistry, install_fake_driver, registry_with


@pytest.fixture(autouse=True)
def _reset_process_wide_state() -> Iterator[None]:
    yield
    SessionStateTransferHandlers.reset_transfer_session_state_on_switch_func()
    SessionStateTransferHandlers.clear_reset_session_state_on_close_func()
    ExceptionSimulatorManager.reset()


@pytest.fixture
def fake_driver(monkeypatch: pytest.MonkeyPatch) -> FakeDriver:
    """The in-memory driver, with the generic database dialect (whatever dialect package is installed)."""
    monkeypatch.setattr(_runtime, "dialect_manager", lambda: None)
    return install_fake_driver()


@pytest.fixture
def use_registry(monkeypatch: pytest.MonkeyPatch) -> UseRegistry:
    """Make ``AwsWrapperConnection.connect`` resolve plugins from a registry holding only the given factories."""

    def use(*factories: type[PluginFactory]) -> PluginRegistry:
        registry = registry_with(*factories)
        monkeypatch.setattr(_connection, "REGISTRY", registry)
        return registry

    return use

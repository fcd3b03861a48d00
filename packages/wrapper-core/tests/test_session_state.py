"""Session state logic (capture, transfer on switch, reset before close, custom handlers) on the fake driver."""

from __future__ import annotations

from typing import Any

import pytest

from aws_wrapper.core import AwsWrapperConnection, SessionState, SessionStateTransferHandlers
from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.plugin import ConnectionChange, OldConnectionSuggestion
from aws_wrapper.core.services import SessionField
from aws_wrapper.core.session_state import SessionValue

from ._fakes import ContextPlugin, ContextPluginFactory, FakeConnection, FakeDriver, UseRegistry, fake_connect


def _open(
    use_registry: UseRegistry, conninfo: str = "host=h", **kwargs: Any
) -> tuple[AwsWrapperConnection, ContextPlugin]:
    use_registry(ContextPluginFactory)
    conn = AwsWrapperConnection.connect(fake_connect, conninfo, plugins="test_context", **kwargs)
    plugin = conn.plugin(ContextPlugin)
    assert plugin is not None
    return conn, plugin


def test_session_value_keeps_the_first_pristine_value() -> None:
    value = SessionValue()
    assert not value.changed
    value.record(True, False)
    value.record(False, True)
    assert (value.value, value.pristine, value.changed) == (False, False, True)


def test_session_state_copy_is_independent() -> None:
    state = SessionState()
    state.read_only.record(True, False)
    snapshot = state.copy()
    state.read_only.record(False, None)
    state.autocommit.record(True, False)
    assert snapshot.read_only.value is True
    assert snapshot.changed_fields() == [SessionField.READ_ONLY]
    assert state.changed_fields() == [SessionField.AUTOCOMMIT, SessionField.READ_ONLY]


def test_handlers_set_get_and_really_reset() -> None:
    def handler(state: SessionState, conn: Any) -> bool:
        return True

    H = SessionStateTransferHandlers
    H.set_transfer_session_state_on_switch_func(handler)
    H.set_reset_session_state_on_close_func(handler)
    assert H.get_transfer_session_state_on_switch_func() is handler
    assert H.get_reset_session_state_on_close_func() is handler
    H.reset_transfer_session_state_on_switch_func()  # upstream's version of this one did nothing
    H.clear_reset_session_state_on_close_func()
    assert H.get_transfer_session_state_on_switch_func() is None
    assert H.get_reset_session_state_on_close_func() is None


def test_first_change_captures_pristine_from_the_connection(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    conn, _ = _open(use_registry)
    raw: FakeConnection = conn.target_connection
    raw.isolation_level = "READ COMMITTED"  # what the server session had before the application changed it
    conn.isolation_level = "serializable"
    conn.isolation_level = "repeatable_read"
    conn.autocommit = True
    state = conn._rt.session
    assert (state.isolation_level.pristine, state.isolation_level.value) == (
        "READ COMMITTED",
        "REPEATABLE READ",
    )
    assert (state.autocommit.pristine, state.autocommit.value) == (False, True)
    assert not state.read_only.changed
    assert conn.isolation_level == "REPEATABLE READ"
    assert conn.autocommit is True
    with pytest.raises(ConfigurationError, match="invalid isolation level 'sometimes'"):
        conn.isolation_level = "sometimes"
    conn.close()


def test_switch_transfers_state_then_resets_and_closes_the_old_connection(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    conn, plugin = _open(use_registry)
    old: FakeConnection = conn.target_connection
    conn.autocommit = True
    conn.read_only = True
    conn.isolation_level = "SERIALIZABLE"
    new = plugin.switch(HostInfo("replacement", 5432))
    assert conn.target_connection is new
    assert new.log == ["set autocommit=True", "set read_only=True", "set isolation=SERIALIZABLE"]
    assert (new.autocommit, new.read_only, new.isolation_level) == (True, True, "SERIALIZABLE")
    # the old connection got its pristine values back, then was closed
    assert old.log[-1] == "close autocommit=False read_only=False isolation=None"
    assert plugin.changes[-1] == frozenset({ConnectionChange.CONNECTION_OBJECT_CHANGED})
    assert conn._rt.current_host == HostInfo("replacement", 5432)
    conn.close()
    assert new.log[-1] == "close autocommit=False read_only=False isolation=None"


def test_cursor_follows_the_switch_and_stale_results_are_refused(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    conn, plugin = _open(use_registry)
    cur = conn.cursor()
    cur.execute("SELECT 1")
    plugin.switch()
    from aws_wrapper.core.errors import InterfaceError

    with pytest.raises(InterfaceError, match="belong to a connection that has been replaced"):
        cur.fetchone()
    cur.execute("SELECT 2")
    assert cur.fetchall() == [(1,)]
    assert conn.target_connection.statements == [("SELECT 2", None)]
    conn.close()


def test_switch_rolls_back_an_open_transaction_unless_disabled(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    conn, plugin = _open(use_registry)
    conn.cursor().execute("INSERT 1")
    old: FakeConnection = conn.target_connection
    assert old.in_tx
    plugin.switch()
    assert "rollback" in old.log
    conn.close()

    conn, plugin = _open(use_registry, rollback_on_switch=False)
    conn.cursor().execute("INSERT 1")
    old = conn.target_connection
    plugin.switch()
    assert "rollback" not in old.log
    conn.close()


def test_transfer_and_reset_can_be_turned_off(fake_driver: FakeDriver, use_registry: UseRegistry) -> None:
    conn, plugin = _open(
        use_registry, "host=h transfer_session_state_on_switch=false reset_session_state_on_close=false"
    )
    old: FakeConnection = conn.target_connection
    conn.read_only = True
    new = plugin.switch()
    assert new.log == []
    assert old.log[-1] == "close autocommit=False read_only=True isolation=None"
    conn.close()


def test_preserving_plugin_keeps_the_old_connection_open(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    conn, plugin = _open(use_registry)
    plugin.answer = OldConnectionSuggestion.PRESERVE
    old: FakeConnection = conn.target_connection
    plugin.switch()
    assert not old.closed
    conn.close()
    assert not old.closed  # the plugin owns it now


def test_custom_transfer_handler_replaces_or_extends_the_default(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    calls: list[tuple[object, object, Any]] = []
    fully_handled = True

    def transfer(state: SessionState, new_conn: Any) -> bool:
        calls.append((state.read_only.value, state.read_only.pristine, new_conn))
        new_conn.log.append("custom transfer")
        return fully_handled

    SessionStateTransferHandlers.set_transfer_session_state_on_switch_func(transfer)
    conn, plugin = _open(use_registry)
    conn.read_only = True
    new = plugin.switch()
    assert calls == [(True, False, new)]
    assert new.log == ["custom transfer"]  # True: the wrapper did not apply its own transfer

    fully_handled = False
    newer = plugin.switch()
    assert newer.log == ["custom transfer", "set read_only=True"]
    conn.close()


def test_custom_reset_handler_is_called_before_close(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    seen: list[tuple[object, bool]] = []

    def reset(state: SessionState, conn: Any) -> bool:
        seen.append((state.autocommit.pristine, conn.closed))
        conn.log.append("custom reset")
        return True

    SessionStateTransferHandlers.set_reset_session_state_on_close_func(reset)
    conn, _ = _open(use_registry)
    raw: FakeConnection = conn.target_connection
    conn.autocommit = True
    conn.close()
    assert seen == [(False, False)]
    assert raw.log[-2:] == ["custom reset", "close autocommit=True read_only=False isolation=None"]


def test_reset_is_skipped_for_a_connection_inside_a_transaction(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    conn, _ = _open(use_registry)
    conn.read_only = True
    raw: FakeConnection = conn.target_connection
    conn.cursor().execute("SELECT 1")
    assert raw.in_tx
    conn.close()
    assert raw.log[-1] == "close autocommit=False read_only=True isolation=None"


def test_unchanged_state_is_never_written(fake_driver: FakeDriver, use_registry: UseRegistry) -> None:
    conn, plugin = _open(use_registry)
    old: FakeConnection = conn.target_connection
    assert conn.read_only is False
    new = plugin.switch()
    assert new.log == []
    assert old.log == ["close autocommit=False read_only=False isolation=None"]
    conn.close()

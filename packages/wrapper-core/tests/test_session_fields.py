"""ABI 1.1 session state on the fake driver: custom session fields (registered by a plugin or process-wide),
the session state service's new methods, the connections of a switch, and attribute writes that reach the driver
connection and follow the wrapper connection to every new one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aws_wrapper.core import AwsWrapperConnection, SessionState, SessionStateTransferHandlers
from aws_wrapper.core.errors import InterfaceError
from aws_wrapper.core.plugin import ConnectionChange, OldConnectionSuggestion, Plugin, RawConnection
from aws_wrapper.core.services import PluginContext, SessionField
from aws_wrapper.core.session_state import (
    MISSING,
    AttributeSessionField,
    ConnectionSwitch,
    CustomSessionField,
    SessionFields,
)

from ._fakes import ContextPlugin, ContextPluginFactory, FakeConnection, FakeDriver, UseRegistry, fake_connect


def _vars(conn: FakeConnection) -> dict[str, object]:
    found: dict[str, object] | None = getattr(conn, "session_vars", None)
    if found is None:
        found = {}
        conn.session_vars = found  # type: ignore[attr-defined]
    return found


def server_field(name: str = "label", **options: Any) -> CustomSessionField:
    """A field kept in the fake connection's ``session_vars`` (pristine ``"default"``); every write is logged."""

    def read(conn: RawConnection) -> object:
        return _vars(conn).get(name, "default")

    def apply(conn: RawConnection, value: object) -> None:
        conn.log.append(f"set {name}={value}")
        _vars(conn)[name] = value

    return CustomSessionField(name, read, apply, **options)


class FieldPlugin(ContextPlugin):
    """Registers a custom field in its constructor (as a plugin of another distribution would) and keeps what
    ``last_switch`` says during each notification."""

    def __init__(self, context: PluginContext) -> None:
        super().__init__(context)
        self.field = server_field()
        context.session_state.register_field(self.field)
        self.switches: list[ConnectionSwitch | None] = []

    def notify_connection_changed(self, changes: frozenset[ConnectionChange]) -> OldConnectionSuggestion:
        self.switches.append(self.context.session_state.last_switch)
        return super().notify_connection_changed(changes)


class FieldPluginFactory(ContextPluginFactory):
    code = "test_field"

    def create(self, context: PluginContext) -> Plugin:
        return FieldPlugin(context)


@pytest.fixture(autouse=True)
def _no_process_wide_fields() -> Iterator[None]:
    yield
    SessionFields.clear()


def _open(use_registry: UseRegistry, **kwargs: Any) -> tuple[AwsWrapperConnection, FieldPlugin]:
    use_registry(FieldPluginFactory)
    conn = AwsWrapperConnection.connect(fake_connect, "host=h", plugins="test_field", **kwargs)
    plugin = conn.plugin(FieldPlugin)
    assert plugin is not None
    return conn, plugin


# -- custom fields ---------------------------------------------------------------------------------------------------


def test_custom_field_is_recorded_transferred_and_reset_like_the_built_in_ones(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    conn, plugin = _open(use_registry)
    old: FakeConnection = conn.target_connection
    conn.label = "app-1"  # a registered field is an attribute of the wrapper connection
    conn.read_only = True
    assert old.log == ["set label=app-1", "set read_only=True"]
    assert conn.label == "app-1"  # read from the driver connection through the field's reader
    service = plugin.context.session_state
    assert (service.current("label"), service.pristine("label"), service.is_changed("label")) == (
        "app-1",
        "default",
        True,
    )
    new = plugin.switch()
    assert new.log == ["set read_only=True", "set label=app-1"]  # built-in fields first
    assert _vars(new)["label"] == "app-1"
    assert old.log[-2:] == ["set label=default", "close autocommit=False read_only=False isolation=None"]
    conn.close()
    assert new.log[-3:] == [
        "set read_only=False",
        "set label=default",
        "close autocommit=False read_only=False isolation=None",
    ]


def test_unchanged_custom_field_is_never_written(fake_driver: FakeDriver, use_registry: UseRegistry) -> None:
    conn, plugin = _open(use_registry)
    assert conn.label == "default"
    new = plugin.switch()
    assert new.log == []
    conn.close()
    assert new.log == ["close autocommit=False read_only=False isolation=None"]


def test_process_wide_fields_reach_connections_opened_afterwards(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    before, _ = _open(use_registry)
    SessionFields.register(server_field("schema"))
    assert [f.name for f in SessionFields.registered()] == ["schema"]
    conn, plugin = _open(use_registry)
    conn.schema = "s1"
    new = plugin.switch()
    assert _vars(new)["schema"] == "s1"
    with pytest.raises(AttributeError):
        before.schema  # noqa: B018  # opened before the registration: an unknown attribute of the driver
    SessionFields.register(server_field("schema", transfer=False))  # a name registered again is replaced
    replaced = SessionFields.get("schema")
    assert replaced is not None
    assert not replaced.transfer
    SessionFields.unregister("schema")
    SessionFields.unregister("schema")  # no error
    assert SessionFields.registered() == ()
    with pytest.raises(TypeError, match="expected a CustomSessionField"):
        SessionFields.register(AttributeSessionField.of("row_factory"))
    before.close()
    conn.close()


def test_field_definitions_are_validated() -> None:
    def apply(conn: RawConnection, value: object) -> None:
        pass

    for name in ("read_only", "_private", "not-an-identifier", ""):
        with pytest.raises(ValueError, match=repr(name)):
            CustomSessionField(name, None, apply)
    with pytest.raises(TypeError, match="'label': apply must be callable, got 42"):
        CustomSessionField("label", None, 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'label': reset must be callable or None, got 'x'"):
        CustomSessionField("label", None, apply, reset="x")  # type: ignore[arg-type]


def test_a_second_definition_under_a_taken_name_is_refused(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    conn, plugin = _open(use_registry)
    service = plugin.context.session_state
    service.register_field(plugin.field)  # the same field again: nothing happens
    with pytest.raises(ValueError, match="session field 'label' is already registered on this connection"):
        service.register_field(server_field())
    with pytest.raises(ValueError, match="already registered"):
        service.set_field(server_field(), "x")
    assert conn.target_connection.log == []  # refused before anything was applied
    conn.close()


def test_transfer_and_reset_options_of_a_field(fake_driver: FakeDriver, use_registry: UseRegistry) -> None:
    conn, plugin = _open(use_registry)
    service = plugin.context.session_state
    resets: list[object] = []
    service.register_field(server_field("stays", transfer=False))
    service.register_field(server_field("kept", reset_on_close=False))
    service.register_field(server_field("custom_reset", reset=lambda c, p: resets.append(p)))
    conn.stays = conn.kept = conn.custom_reset = "v"
    old: FakeConnection = conn.target_connection
    new = plugin.switch()
    assert new.log == ["set kept=v", "set custom_reset=v"]
    assert old.log[-2:] == ["set stays=default", "close autocommit=False read_only=False isolation=None"]
    assert resets == ["default"]
    conn.close()


def test_a_field_without_reader_has_no_pristine_value_and_is_reset_only_by_its_reset(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    conn, plugin = _open(use_registry)
    service = plugin.context.session_state
    seen: list[object] = []

    def apply(c: RawConnection, value: object) -> None:
        seen.append(value)

    service.register_field(CustomSessionField("write_only", None, apply))
    service.register_field(
        CustomSessionField("role", None, apply, reset=lambda c, p: seen.append("RESET ROLE"))
    )
    conn.write_only = "w"
    conn.role = "r"
    assert conn.write_only == "w"  # no reader: the recorded value
    assert service.pristine("write_only") is None
    conn.close()
    assert seen == ["w", "r", "RESET ROLE"]


def test_a_failing_reset_does_not_stop_the_others(fake_driver: FakeDriver, use_registry: UseRegistry) -> None:
    conn, plugin = _open(use_registry)

    def broken(conn: RawConnection, pristine: object) -> None:
        raise RuntimeError("cannot reset")

    plugin.context.session_state.register_field(server_field("fragile", reset=broken))
    conn.fragile = "x"
    conn.label = "y"
    conn.autocommit = True
    raw: FakeConnection = conn.target_connection
    conn.close()
    assert raw.log[-3:] == [
        "set autocommit=False",
        "set label=default",
        "close autocommit=False read_only=False isolation=None",
    ]


# -- the service -------------------------------------------------------------------------------------------------------


def test_service_names_fields_by_enum_member_value_name_or_field(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    conn, plugin = _open(use_registry)
    service = plugin.context.session_state
    conn.read_only = True
    assert service.current(SessionField.READ_ONLY) is True  # unchanged ABI 1.0 use
    assert service.current("read_only") is True
    assert service.pristine(SessionField.READ_ONLY) is False
    assert service.current(plugin.field) is None
    assert not service.is_changed(plugin.field)
    assert service.current("never_registered") is None  # reading an unknown name: "never set"
    assert not service.is_changed("never_registered")
    with pytest.raises(ValueError, match="unknown session field 'never_registered'"):
        service.set_field("never_registered", 1)
    with pytest.raises(ValueError, match="unknown session field 'nope'"):
        service.record("nope", 1)
    conn.close()


def test_set_field_applies_and_records(fake_driver: FakeDriver, use_registry: UseRegistry) -> None:
    conn, plugin = _open(use_registry)
    service = plugin.context.session_state
    raw: FakeConnection = conn.target_connection
    service.set_field("label", "a")
    service.set_field(plugin.field, "b")
    service.set_field(SessionField.AUTOCOMMIT, True)
    extra = server_field("extra")
    service.set_field(extra, "c")  # a field not registered yet is registered
    assert raw.log == ["set label=a", "set label=b", "set autocommit=True", "set extra=c"]
    assert (service.current("label"), service.pristine("label")) == ("b", "default")
    assert conn.extra == "c"
    conn.close()
    with pytest.raises(InterfaceError, match="the connection is closed"):
        service.set_field("label", "z")


def test_record_a_value_the_plugin_set_itself(fake_driver: FakeDriver, use_registry: UseRegistry) -> None:
    conn, plugin = _open(use_registry)
    service = plugin.context.session_state
    raw: FakeConnection = conn.target_connection
    _vars(raw)["label"] = "before"
    service.record("label", "mine")  # no pristine given: read now, before the plugin's own change
    _vars(raw)["label"] = "mine"
    assert (service.current("label"), service.pristine("label")) == ("mine", "before")
    service.record("label", "again", pristine="ignored")  # the first pristine value stays
    assert service.pristine("label") == "before"
    service.record(SessionField.ISOLATION_LEVEL, "SERIALIZABLE", pristine=None)
    new = plugin.switch()
    assert new.log == ["set isolation=SERIALIZABLE", "set label=again"]
    conn.close()


def test_last_switch_names_both_connections(fake_driver: FakeDriver, use_registry: UseRegistry) -> None:
    conn, plugin = _open(use_registry, transfer_session_state_on_switch=False)
    first: FakeConnection = conn.target_connection
    service = plugin.context.session_state
    assert plugin.switches == [None]  # the initial connection: no switch
    assert conn._rt.last_switch is None
    second = plugin.switch()
    third = plugin.switch()
    assert [(s.old, s.new) if s else None for s in plugin.switches] == [
        None,
        (first, second),
        (second, third),
    ]
    assert plugin.switches[1] is not None
    assert plugin.switches[1].old_host == conn._rt.initial_host
    assert first.closed  # reset and closed after the notification
    assert second.closed
    last = service.last_switch
    assert last is not None
    assert (last.old, last.new) == (second, third)
    conn.close()


def test_transfer_handler_sees_custom_values_and_the_switch(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    seen: list[tuple[object, object, bool]] = []

    def transfer(state: SessionState, new_conn: Any) -> bool:
        switch = state.last_switch
        seen.append((state.get("label").value, [f.name for f in state.changed_custom()], switch is not None))
        return True

    SessionStateTransferHandlers.set_transfer_session_state_on_switch_func(transfer)
    conn, plugin = _open(use_registry)
    conn.label = "x"
    new = plugin.switch()
    assert seen == [("x", ["label"], True)]
    assert new.log == []  # fully handled: the custom field was not applied either
    conn.close()


# -- attribute writes ----------------------------------------------------------------------------------------------


def test_attribute_writes_reach_the_driver_and_follow_every_switch(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    conn, plugin = _open(use_registry)
    old: FakeConnection = conn.target_connection
    conn.custom_attribute = "mine"
    conn.brand_new = 7  # the driver connection had no such attribute
    assert (old.custom_attribute, old.brand_new) == ("mine", 7)  # type: ignore[attr-defined]
    assert conn.custom_attribute == "mine"
    assert "custom_attribute" not in vars(conn)  # nothing stored on the wrapper itself
    service = plugin.context.session_state
    assert (service.current("custom_attribute"), service.pristine("custom_attribute")) == (
        "mine",
        "delegated",
    )
    assert service.pristine("brand_new") is MISSING
    new = plugin.switch()
    assert (new.custom_attribute, new.brand_new) == ("mine", 7)
    assert old.custom_attribute == "delegated"  # reset before it was closed
    assert not hasattr(old, "brand_new")
    conn.custom_attribute = "changed"
    newer = plugin.switch()
    assert newer.custom_attribute == "changed"
    conn.close()
    assert newer.custom_attribute == "delegated"
    assert not hasattr(newer, "brand_new")


def test_wrapper_attributes_keep_their_behaviour(fake_driver: FakeDriver, use_registry: UseRegistry) -> None:
    conn, plugin = _open(use_registry)
    raw: FakeConnection = conn.target_connection
    conn.autocommit = True  # a property of the wrapper: through the pipeline and the driver dialect
    assert raw.log == ["set autocommit=True"]
    conn._scratch = 1  # names starting with '_' stay on the wrapper
    assert vars(conn)["_scratch"] == 1
    assert not hasattr(raw, "_scratch")
    with pytest.raises(AttributeError):
        conn.is_closed = True  # type: ignore[misc]  # a read-only property of the wrapper, not the driver's
    assert plugin.context.session_state.current("is_closed") is None
    conn.close()
    assert conn.closed is True
    assert vars(conn)["closed"] is True
    with pytest.raises(InterfaceError, match="the connection is closed"):
        conn.custom_attribute = "late"


def test_a_refused_attribute_write_is_not_recorded(
    fake_driver: FakeDriver, use_registry: UseRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FakeConnection, "fixed", property(lambda self: 1), raising=False)
    conn, _ = _open(use_registry)
    with pytest.raises(AttributeError):
        conn.fixed = 2
    assert conn._rt.session.custom == {}
    assert "fixed" not in conn._rt.session.fields
    conn.close()


def test_attributes_are_restored_even_inside_a_transaction(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    conn, _ = _open(use_registry)
    raw: FakeConnection = conn.target_connection
    conn.custom_attribute = "mine"
    conn.label = "server-side"
    conn.cursor().execute("INSERT 1")
    assert raw.in_tx
    conn.close()
    assert raw.custom_attribute == "delegated"  # client side: restored
    assert _vars(raw)["label"] == "server-side"  # server side: left to the discarded transaction


def test_attribute_and_custom_fields_replay_in_the_order_of_their_first_change(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    conn, plugin = _open(use_registry)
    conn.extra_attribute = 1
    conn.label = "x"
    conn.extra_attribute = 2
    state = conn._rt.session
    assert [f.name for f in state.changed_custom()] == ["extra_attribute", "label"]
    new = plugin.switch()
    assert new.extra_attribute == 2
    conn.close()


def test_an_explicit_field_takes_over_an_attribute_of_the_same_name(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    conn, plugin = _open(use_registry)
    conn.flavour = "attr"
    assert isinstance(conn._rt.session.fields["flavour"], AttributeSessionField)
    field = server_field("flavour")
    plugin.context.session_state.register_field(field)
    assert conn._rt.session.fields["flavour"] is field
    conn.flavour = "field"
    assert _vars(conn.target_connection)["flavour"] == "field"
    conn.close()

"""Session state the wrapper tracks per connection.

Built in: autocommit, read-only and transaction isolation level. Only values changed through the wrapper
(``conn.autocommit = …``, ``conn.read_only = …``, ``conn.isolation_level = …``) are tracked. The first change records
the *pristine* value (what the physical connection had before). On a switch to a new physical connection the
current values are applied to it (``transfer_session_state_on_switch``); before the wrapper closes a physical
connection the pristine values are restored (``reset_session_state_on_close``).

ABI 1.1 opens the set of fields:

* :class:`CustomSessionField` — a field a plugin (``context.session_state.register_field``) or the application
  (process-wide, :class:`SessionFields`) adds: its name, how to read it from a driver connection, how to apply a
  value to one and how to restore the pristine value. Core records, transfers and resets it exactly like the
  built-in three.
* :class:`AttributeSessionField` — what the wrapper records for a plain attribute assignment it does not define
  itself (``conn.row_factory = dict_row``): the assignment goes to the driver connection and is replayed on every
  new one.
* :class:`ConnectionSwitch` — the old and the new physical connection of the switch that installed the current one
  (``context.session_state.last_switch``, readable in ``notify_connection_changed``).

Custom handlers (:class:`SessionStateTransferHandlers`) replace or extend that: a handler is called as
``handler(state, connection) -> bool`` where ``state`` is a :class:`SessionState` snapshot and ``connection`` the
driver connection; returning True means "fully handled", False lets the wrapper apply its default as well.
Handlers are process-wide.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from .hostinfo import HostInfo
from .plugin import RawConnection
from .records import field, record
from .services import SessionField

if TYPE_CHECKING:
    from .driver import DriverDialect

__all__ = [
    "MISSING",
    "AttributeSessionField",
    "ConnectionSwitch",
    "CustomSessionField",
    "SessionField",
    "SessionFields",
    "SessionKey",
    "SessionState",
    "SessionStateTransferHandlers",
    "SessionValue",
    "StateHandler",
    "read_field",
]

_BUILTIN: Final[dict[str, SessionField]] = {f.value: f for f in SessionField}


class _Missing:
    """The type of :data:`MISSING`."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


#: "No value": the pristine value of a driver attribute that did not exist, or ``record`` without ``pristine=``.
MISSING: Final = _Missing()


@record(frozen=True, eq=False)
class CustomSessionField:
    """A session field added by a plugin or the application (ABI 1.1).

    ``read(conn)`` returns the value a driver connection has now; the wrapper calls it once, before the first change
    through the wrapper, to record the pristine value (None: the pristine value is unknown and only ``reset`` can
    restore the field). ``apply(conn, value)`` gives a driver connection the value: on a change, and on every new
    physical connection after a switch (failover, read/write split). ``reset(conn, pristine)`` restores the field
    before the wrapper closes a physical connection; by default ``apply(conn, pristine)`` (when ``read`` exists).

    ``apply``/``reset`` that run SQL should use ``context.dialects.driver.query(conn, sql, params)``: it leaves no
    transaction open and returns tuples whatever the connection's row factory. ``transfer=False`` leaves the field
    out of switches, ``reset_on_close=False`` out of the reset before close.

    Once registered, the field is also an attribute of the wrapper connection: ``conn.<name> = value`` sets it
    (read pristine, apply, record) and ``conn.<name>`` reads it from the current driver connection.
    """

    name: str
    read: Callable[[RawConnection], object] | None
    apply: Callable[[RawConnection, object], None]
    reset: Callable[[RawConnection, object], None] | None = field(default=None, kw_only=True)
    transfer: bool = field(default=True, kw_only=True)
    reset_on_close: bool = field(default=True, kw_only=True)

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise ValueError(
                f"invalid session field name {name!r}: expected an identifier not starting with '_'"
            )
        if name in _BUILTIN:
            raise ValueError(f"session field name {name!r} is built in: choose another name")
        if not callable(self.apply):
            raise TypeError(f"session field {name!r}: apply must be callable, got {self.apply!r}")
        for what, func in (("read", self.read), ("reset", self.reset)):
            if func is not None and not callable(func):
                raise TypeError(f"session field {name!r}: {what} must be callable or None, got {func!r}")

    def read_value(self, conn: RawConnection) -> object:
        """The value ``conn`` has now (None when the field has no ``read``)."""
        return None if self.read is None else self.read(conn)

    def restore(self, conn: RawConnection, pristine: object) -> None:
        """Give ``conn`` its pristine value back (nothing when neither ``reset`` nor ``read`` exists)."""
        if self.reset is not None:
            self.reset(conn, pristine)
        elif self.read is not None:
            self.apply(conn, pristine)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class AttributeSessionField(CustomSessionField):
    """A plain attribute of the driver connection (``row_factory``, ``cursor_factory``, ``prepare_threshold``,
    mysql-connector's ``time_zone``, …), recorded when the application assigns it through the wrapper.

    Pristine value: the attribute before the first assignment (:data:`MISSING` when the driver connection had
    none; the reset then deletes it)."""

    @classmethod
    def of(cls, name: str) -> AttributeSessionField:
        def read(conn: RawConnection) -> object:
            return getattr(conn, name, MISSING)

        def apply(conn: RawConnection, value: object) -> None:
            setattr(conn, name, value)

        def reset(conn: RawConnection, pristine: object) -> None:
            if pristine is MISSING:
                try:
                    delattr(conn, name)
                except AttributeError:
                    pass
            else:
                setattr(conn, name, pristine)

        return cls(name, read, apply, reset=reset)


@record(frozen=True)
class ConnectionSwitch:
    """One switch of the physical connection (ABI 1.1). During ``notify_connection_changed`` ``old`` is still open
    (rolled back when it was inside a transaction); afterwards it is reset and closed unless a plugin answered
    ``OldConnectionSuggestion.PRESERVE``."""

    old: RawConnection
    new: RawConnection
    old_host: HostInfo | None = None


@record()
class SessionValue:
    value: object | None = None  # current value set through the wrapper; None = never set
    pristine: object | None = None  # value the physical connection had before the first change
    changed: bool = False

    def record(self, new_value: object, pristine: object | None) -> None:
        if not self.changed:
            self.pristine = pristine
            self.changed = True
        self.value = new_value


#: How a field is named in the session state API: a built-in enum member, a field's name, or the field itself.
SessionKey = SessionField | str | CustomSessionField


class SessionFields:
    """Process-wide custom session fields (ABI 1.1; static methods, like :class:`SessionStateTransferHandlers`).
    Every wrapper connection opened afterwards tracks them; a name registered again replaces the field."""

    _lock = threading.Lock()
    _fields: dict[str, CustomSessionField] = {}

    @staticmethod
    def register(field: CustomSessionField) -> None:
        if not isinstance(field, CustomSessionField) or isinstance(field, AttributeSessionField):
            raise TypeError(f"expected a CustomSessionField, got {field!r}")
        with SessionFields._lock:
            fields = dict(SessionFields._fields)
            fields[field.name] = field
            SessionFields._fields = fields

    @staticmethod
    def unregister(name: str) -> None:
        """Remove the field named ``name`` (for connections opened afterwards); no error when there is none."""
        with SessionFields._lock:
            fields = dict(SessionFields._fields)
            fields.pop(name, None)
            SessionFields._fields = fields

    @staticmethod
    def get(name: str) -> CustomSessionField | None:
        return SessionFields._fields.get(name)

    @staticmethod
    def registered() -> tuple[CustomSessionField, ...]:
        return tuple(SessionFields._fields.values())

    @staticmethod
    def clear() -> None:
        with SessionFields._lock:
            SessionFields._fields = {}

    @staticmethod
    def snapshot() -> dict[str, CustomSessionField]:
        return dict(SessionFields._fields)


@record()
class SessionState:
    """The tracked fields of one wrapper connection (a snapshot when handed to a handler)."""

    autocommit: SessionValue = field(default_factory=SessionValue)
    read_only: SessionValue = field(default_factory=SessionValue)
    isolation_level: SessionValue = field(default_factory=SessionValue)
    #: ABI 1.1: the custom fields this connection knows, by name (process-wide ones, those registered by its
    #: plugins, and attribute fields of assignments).
    fields: dict[str, CustomSessionField] = field(default_factory=SessionFields.snapshot)
    #: ABI 1.1: values of custom fields, by name, in the order of their first change.
    custom: dict[str, SessionValue] = field(default_factory=dict)
    #: ABI 1.1: the switch that installed the current physical connection (None before the first switch).
    last_switch: ConnectionSwitch | None = None

    # -- lookups ---------------------------------------------------------------------------------------------------
    def resolve(self, which: SessionKey) -> SessionField | CustomSessionField:
        """The field ``which`` names. A :class:`CustomSessionField` not registered here is returned as is (it is
        registered once a value was applied); an unknown name raises ValueError."""
        if isinstance(which, SessionField):
            return which
        if isinstance(which, CustomSessionField):
            known = self.fields.get(which.name)
            if known is None or known is which:
                return which
            if isinstance(which, AttributeSessionField):
                return known  # an assignment to a name a field is registered under goes to that field
            if isinstance(known, AttributeSessionField):
                return which  # replaces the attribute field once registered
            raise ValueError(
                f"session field {which.name!r} is already registered on this connection ({known!r}); a second "
                f"definition {which!r} is refused"
            )
        builtin = _BUILTIN.get(which)
        if builtin is not None:
            return builtin
        known = self.fields.get(which)
        if known is None:
            raise ValueError(
                f"unknown session field {which!r}: register it first (SessionFields.register, or "
                "context.session_state.register_field in a plugin)"
            )
        return known

    def get(self, which: SessionKey) -> SessionValue:
        """The value record of ``which`` (created for a known custom field)."""
        key = self.resolve(which)
        if isinstance(key, SessionField):
            value: SessionValue = getattr(self, key.value)
            return value
        record = self.custom.get(key.name)
        if record is None:
            record = self.custom[key.name] = SessionValue()
        return record

    def peek(self, which: SessionKey) -> SessionValue:
        """Like :meth:`get`, without creating anything: a field never set (or unknown) reads as never set."""
        if isinstance(which, SessionField):
            value: SessionValue = getattr(self, which.value)
            return value
        name = which.name if isinstance(which, CustomSessionField) else which
        builtin = _BUILTIN.get(name)
        if builtin is not None:
            return self.peek(builtin)
        record = self.custom.get(name)
        return SessionValue() if record is None else record

    def register(self, field: CustomSessionField) -> None:
        """Add a custom field to this connection. An explicit field replaces an attribute field of the same name;
        registering the same field again does nothing; another field under a taken name raises ValueError."""
        if not isinstance(field, CustomSessionField):
            raise TypeError(f"expected a CustomSessionField, got {field!r}")
        key = self.resolve(field)  # raises for a second definition under a taken name
        if isinstance(key, CustomSessionField):
            self.fields[key.name] = key

    # -- what changed ------------------------------------------------------------------------------------------------
    def changed_fields(self) -> list[SessionField]:
        """The built-in fields changed through the wrapper."""
        return [f for f in SessionField if self.get(f).changed]

    def changed_custom(self) -> list[CustomSessionField]:
        """The custom fields changed through the wrapper, in the order of their first change."""
        fields = self.fields
        return [fields[name] for name, value in self.custom.items() if value.changed and name in fields]

    def changed_keys(self) -> list[SessionField | CustomSessionField]:
        """Every changed field: the built-in ones first, then the custom ones."""
        keys: list[SessionField | CustomSessionField] = list(self.changed_fields())
        keys.extend(self.changed_custom())
        return keys

    def copy(self) -> SessionState:
        def dup(v: SessionValue) -> SessionValue:
            return SessionValue(v.value, v.pristine, v.changed)

        return SessionState(
            dup(self.autocommit),
            dup(self.read_only),
            dup(self.isolation_level),
            fields=dict(self.fields),
            custom={k: dup(v) for k, v in self.custom.items()},
            last_switch=self.last_switch,
        )


def read_field(
    driver: DriverDialect, conn: RawConnection, field: SessionField | CustomSessionField
) -> object:
    """The value ``conn`` has now for ``field`` (a built-in one through the driver dialect)."""
    if field is SessionField.AUTOCOMMIT:
        return driver.get_autocommit(conn)
    if field is SessionField.READ_ONLY:
        return driver.get_read_only(conn)
    if field is SessionField.ISOLATION_LEVEL:
        return driver.get_isolation_level(conn)
    assert isinstance(field, CustomSessionField)
    return field.read_value(conn)


StateHandler = Callable[[SessionState, Any], bool]


class SessionStateTransferHandlers:
    """Process-wide custom handlers (upstream's names; every method is a static method)."""

    _lock = threading.Lock()
    _transfer: StateHandler | None = None
    _reset: StateHandler | None = None

    @staticmethod
    def set_transfer_session_state_on_switch_func(func: StateHandler) -> None:
        with SessionStateTransferHandlers._lock:
            SessionStateTransferHandlers._transfer = func

    @staticmethod
    def get_transfer_session_state_on_switch_func() -> StateHandler | None:
        return SessionStateTransferHandlers._transfer

    @staticmethod
    def reset_transfer_session_state_on_switch_func() -> None:
        with SessionStateTransferHandlers._lock:
            SessionStateTransferHandlers._transfer = None

    clear_transfer_session_state_on_switch_func = reset_transfer_session_state_on_switch_func

    @staticmethod
    def set_reset_session_state_on_close_func(func: StateHandler) -> None:
        with SessionStateTransferHandlers._lock:
            SessionStateTransferHandlers._reset = func

    @staticmethod
    def get_reset_session_state_on_close_func() -> StateHandler | None:
        return SessionStateTransferHandlers._reset

    @staticmethod
    def clear_reset_session_state_on_close_func() -> None:
        with SessionStateTransferHandlers._lock:
            SessionStateTransferHandlers._reset = None

    reset_reset_session_state_on_close_func = clear_reset_session_state_on_close_func

"""Session state the wrapper tracks per connection: autocommit, read-only and transaction isolation level.

Only values changed through the wrapper (``conn.autocommit = …``, ``conn.read_only = …``,
``conn.isolation_level = …``) are tracked. The first change records the *pristine* value (what the physical
connection had before). On a switch to a new physical connection the current values are applied to it
(``transfer_session_state_on_switch``); before the wrapper closes a physical connection the pristine values are
restored (``reset_session_state_on_close``).

Custom handlers (:class:`SessionStateTransferHandlers`) replace or extend that: a handler is called as
``handler(state, connection) -> bool`` where ``state`` is a :class:`SessionState` snapshot and ``connection`` the
driver connection; returning True means "fully handled", False lets the wrapper apply its default as well.
Handlers are process-wide.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .services import SessionField

__all__ = ["SessionField", "SessionValue", "SessionState", "SessionStateTransferHandlers", "StateHandler"]


@dataclass
class SessionValue:
    value: object | None = None  # current value set through the wrapper; None = never set
    pristine: object | None = None  # value the physical connection had before the first change
    changed: bool = False

    def record(self, new_value: object, pristine: object | None) -> None:
        if not self.changed:
            self.pristine = pristine
            self.changed = True
        self.value = new_value


@dataclass
class SessionState:
    """A snapshot of the tracked fields of one wrapper connection."""

    autocommit: SessionValue = field(default_factory=SessionValue)
    read_only: SessionValue = field(default_factory=SessionValue)
    isolation_level: SessionValue = field(default_factory=SessionValue)

    def get(self, which: SessionField) -> SessionValue:
        value: SessionValue = getattr(self, which.value)
        return value

    def changed_fields(self) -> list[SessionField]:
        return [f for f in SessionField if self.get(f).changed]

    def copy(self) -> SessionState:
        return SessionState(
            *(
                SessionValue(v.value, v.pristine, v.changed)
                for v in (self.autocommit, self.read_only, self.isolation_level)
            )
        )


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

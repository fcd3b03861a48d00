"""Every DB-API call the wrapper routes through its plugin pipeline."""

from __future__ import annotations

import enum

__all__ = ["DbApiMethod", "ALL_METHODS", "NETWORK_BOUND_METHODS"]


class DbApiMethod(enum.Enum):
    """A wrapped call. ``api_name`` is the name upstream documents (``"Cursor.execute"``); ``network_bound``
    says whether the call may wait on the server (the default set; a driver dialect may narrow it)."""

    api_name: str
    network_bound: bool

    def __new__(cls, api_name: str, network_bound: bool) -> DbApiMethod:
        member = object.__new__(cls)
        member._value_ = api_name
        member.api_name = api_name
        member.network_bound = network_bound
        return member

    CONNECTION_CLOSE = ("Connection.close", True)
    CONNECTION_COMMIT = ("Connection.commit", True)
    CONNECTION_ROLLBACK = ("Connection.rollback", True)
    CONNECTION_CURSOR = ("Connection.cursor", True)
    CONNECTION_AUTOCOMMIT = ("Connection.autocommit", True)
    CONNECTION_AUTOCOMMIT_SETTER = ("Connection.autocommit_setter", True)
    CONNECTION_IS_READ_ONLY = ("Connection.is_read_only", True)
    CONNECTION_SET_READ_ONLY = ("Connection.set_read_only", True)
    CONNECTION_ISOLATION_LEVEL = ("Connection.isolation_level", True)
    CONNECTION_SET_ISOLATION_LEVEL = ("Connection.set_isolation_level", True)
    CONNECTION_IS_CLOSED = ("Connection.is_closed", False)
    CONNECTION_TPC_BEGIN = ("Connection.tpc_begin", True)
    CONNECTION_TPC_PREPARE = ("Connection.tpc_prepare", True)
    CONNECTION_TPC_COMMIT = ("Connection.tpc_commit", True)
    CONNECTION_TPC_ROLLBACK = ("Connection.tpc_rollback", True)
    CONNECTION_TPC_RECOVER = ("Connection.tpc_recover", True)
    CURSOR_CLOSE = ("Cursor.close", True)
    CURSOR_EXECUTE = ("Cursor.execute", True)
    CURSOR_EXECUTEMANY = ("Cursor.executemany", True)
    CURSOR_CALLPROC = ("Cursor.callproc", True)
    CURSOR_FETCHONE = ("Cursor.fetchone", True)
    CURSOR_FETCHMANY = ("Cursor.fetchmany", True)
    CURSOR_FETCHALL = ("Cursor.fetchall", True)
    CURSOR_NEXT = ("Cursor.__next__", False)
    CURSOR_NEXTSET = ("Cursor.nextset", True)
    CURSOR_SETINPUTSIZES = ("Cursor.setinputsizes", False)
    CURSOR_SETOUTPUTSIZE = ("Cursor.setoutputsize", False)

    @classmethod
    def by_name(cls, api_name: str) -> DbApiMethod:
        member = cls._value2member_map_.get(api_name)
        if member is None:
            raise ValueError(f"unknown db-api method {api_name!r}")
        return member  # type: ignore[return-value]


ALL_METHODS: frozenset[DbApiMethod] = frozenset(DbApiMethod)
NETWORK_BOUND_METHODS: frozenset[DbApiMethod] = frozenset(m for m in DbApiMethod if m.network_bound)

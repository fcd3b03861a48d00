"""PEP 249 module globals, constructors and type objects (covering PostgreSQL OIDs and MySQL field types)."""

from __future__ import annotations

import datetime
import time

__all__ = [
    "apilevel",
    "threadsafety",
    "paramstyle",
    "Date",
    "Time",
    "Timestamp",
    "DateFromTicks",
    "TimeFromTicks",
    "TimestampFromTicks",
    "Binary",
    "STRING",
    "BINARY",
    "NUMBER",
    "DATETIME",
    "ROWID",
]

apilevel = "2.0"
#: PEP 249 level 1: threads may share the module, not connections — the lower of the two drivers' levels
#: (mysql-connector: 1). A psycopg wrapper connection may in fact be shared (psycopg serializes calls, level 2);
#: a mysql-connector one may not, and a second thread calling it at the same time gets an InterfaceError
#: instead of a corrupted protocol stream. Use ``AwsWrapperConnection.threadsafety`` for the connection at hand.
threadsafety = 1
paramstyle = "pyformat"

Date = datetime.date
Time = datetime.time
Timestamp = datetime.datetime


def DateFromTicks(ticks: float) -> datetime.date:
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> datetime.time:
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> datetime.datetime:
    return Timestamp(*time.localtime(ticks)[:6])


def Binary(value: bytes | bytearray | memoryview) -> bytes:
    return bytes(value)


class _TypeObject(frozenset[int]):
    """Compares equal to any of its type codes (PostgreSQL OIDs and MySQL field-type numbers)."""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, int):
            return other in self
        return frozenset.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = frozenset.__hash__


STRING = _TypeObject({25, 1043, 1042, 18, 19, 114, 3802, 253, 254, 15})
BINARY = _TypeObject({17, 249, 250, 251, 252})
NUMBER = _TypeObject({21, 23, 20, 700, 701, 1700, 790, 0, 1, 2, 3, 4, 5, 8, 9, 246})
DATETIME = _TypeObject({1082, 1083, 1114, 1184, 1266, 1186, 10, 11, 12, 13, 14, 7})
ROWID = _TypeObject({26})

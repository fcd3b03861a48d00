"""Upstream-compatible names for aws-wrapper (``aws_advanced_python_wrapper``).

Existing code written for the AWS Advanced Python Wrapper keeps working::

    from aws_advanced_python_wrapper import AwsWrapperConnection, release_resources

This package holds no logic: everything is re-exported from :mod:`aws_wrapper.core`.

Other distributions may add modules to it (``aws_advanced_python_wrapper.sqlalchemy_dialects``,
``aws_advanced_python_wrapper.django.backends.mysql_connector``, ...) by shipping them under
``aws_advanced_python_wrapper/`` without an ``__init__.py``: a wheel installs them into this package's directory, and
the ``__path__`` extension below finds them in any other ``sys.path`` entry (editable installs, source checkouts),
as ``pkgutil.extend_path`` would, without importing pkgutil.
"""

from __future__ import annotations

import os
import sys

from aws_wrapper.core import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    AwsWrapperConnection,
    AwsWrapperCursor,
    Binary,
    DatabaseError,
    DataError,
    Date,
    DateFromTicks,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
    Warning,
    __version__,
    apilevel,
    connect,
    paramstyle,
    release_resources,
    set_logger,
    threadsafety,
)


def _extend_path(path: list[str]) -> list[str]:
    """``path`` plus every ``aws_advanced_python_wrapper`` directory on ``sys.path`` (pkgutil.extend_path's rule for
    plain directories)."""
    extended = list(path)
    for entry in sys.path:
        if not isinstance(entry, str) or not os.path.isdir(entry):
            continue
        candidate = os.path.join(entry, __name__)
        if candidate not in extended and os.path.isdir(candidate):
            extended.append(candidate)
    return extended


__path__ = _extend_path(__path__)  # submodules shipped by other distributions (see above)

__all__ = [
    "AwsWrapperConnection",
    "AwsWrapperCursor",
    "connect",
    "release_resources",
    "set_logger",
    "__version__",
    "Warning",
    "Error",
    "InterfaceError",
    "DatabaseError",
    "DataError",
    "OperationalError",
    "IntegrityError",
    "InternalError",
    "ProgrammingError",
    "NotSupportedError",
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
    "apilevel",
    "threadsafety",
    "paramstyle",
]

"""Upstream-compatible names for aws-wrapper (``aws_advanced_python_wrapper``).

Existing code written for the AWS Advanced Python Wrapper keeps working::

    from aws_advanced_python_wrapper import AwsWrapperConnection, release_resources

This package holds no logic: everything is re-exported from :mod:`aws_wrapper.core`.

Other distributions may add modules to it (``aws_advanced_python_wrapper.sqlalchemy_dialects``,
``aws_advanced_python_wrapper.django.backends.mysql_connector``, ...) by shipping them under
``aws_advanced_python_wrapper/`` without an ``__init__.py``: a wheel installs them into this package's directory, and
``pkgutil.extend_path`` below finds them in any other ``sys.path`` entry (editable installs, source checkouts).
"""

from __future__ import annotations

from pkgutil import extend_path

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

__path__ = extend_path(__path__, __name__)  # submodules shipped by other distributions (see above)

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

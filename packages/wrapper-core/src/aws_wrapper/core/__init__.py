"""aws-wrapper core: the plugin pipeline around psycopg 3 and mysql-connector-python.

Typical use::

    import psycopg
    from aws_wrapper.core import AwsWrapperConnection, release_resources

    conn = AwsWrapperConnection.connect(psycopg.Connection.connect, "host=... dbname=... user=...", plugins="failover")
"""

from __future__ import annotations

from ._connection import AwsWrapperConnection, connect
from ._cursor import AwsWrapperCursor
from ._dbapi import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    Date,
    DateFromTicks,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
    apilevel,
    paramstyle,
    threadsafety,
)
from ._logging import set_logger
from .errors import (
    AwsConnectError,
    AwsWrapperError,
    ConfigurationError,
    DatabaseError,
    DataError,
    Error,
    FailoverError,
    FailoverFailedError,
    FailoverSuccessError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PluginError,
    ProgrammingError,
    QueryTimeoutError,
    ReadWriteSplittingError,
    TransactionResolutionUnknownError,
    UnknownSettingError,
    UnsupportedOperationError,
    Warning,
)
from .hostinfo import HostAvailability, HostInfo, HostRole
from .lifecycle import release_resources
from .methods import DbApiMethod
from .plugin import PLUGIN_ABI, Plugin, PluginFactory
from .services import PluginContext
from .session_state import (
    ConnectionSwitch,
    CustomSessionField,
    SessionFields,
    SessionState,
    SessionStateTransferHandlers,
)
from .version import __version__

__all__ = [
    "AwsWrapperConnection",
    "AwsWrapperCursor",
    "connect",
    "release_resources",
    "set_logger",
    "__version__",
    "HostInfo",
    "HostRole",
    "HostAvailability",
    "DbApiMethod",
    "Plugin",
    "PluginFactory",
    "PluginContext",
    "PLUGIN_ABI",
    "SessionState",
    "SessionStateTransferHandlers",
    "CustomSessionField",
    "SessionFields",
    "ConnectionSwitch",
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
    "AwsWrapperError",
    "ConfigurationError",
    "PluginError",
    "UnknownSettingError",
    "AwsConnectError",
    "QueryTimeoutError",
    "UnsupportedOperationError",
    "ReadWriteSplittingError",
    "FailoverError",
    "FailoverSuccessError",
    "TransactionResolutionUnknownError",
    "FailoverFailedError",
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

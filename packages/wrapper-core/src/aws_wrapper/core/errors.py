"""One error hierarchy, shaped like PEP 249.

A driver error that the wrapper does not handle reaches the application unchanged (its own type). A wrapper error
that replaces a driver error keeps it as ``driver_error`` and as ``__cause__``.
"""

from __future__ import annotations

__all__ = [
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
]


class Warning(Exception):
    """PEP 249 warning."""


class Error(Exception):
    """Base of every PEP 249 error raised by the wrapper itself."""


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


class AwsWrapperError(Error):
    """An error raised by the wrapper. ``driver_error`` is the driver exception it replaces, if any."""

    def __init__(self, message: str, *, driver_error: BaseException | None = None) -> None:
        super().__init__(message)
        self.driver_error = driver_error
        if driver_error is not None:
            self.__cause__ = driver_error


class ConfigurationError(AwsWrapperError, InterfaceError):
    """A setting, conninfo string or plugin list is malformed. Raised before anything is connected."""


class PluginError(ConfigurationError):
    """A requested plugin cannot be used: unknown code, not installed, duplicate, ABI mismatch, import failure."""


class UnknownSettingError(ConfigurationError, ProgrammingError):
    """A connection property is neither a setting of the wrapper (or of an installed plugin) nor a parameter of
    the driver, e.g. a misspelt setting. ``key`` is the property, ``suggestion`` the closest known name (or
    None); ``driver_error`` the driver's own rejection. Also a PEP 249 ``ProgrammingError``."""

    def __init__(
        self,
        message: str,
        *,
        key: str,
        suggestion: str | None = None,
        driver_error: BaseException | None = None,
    ) -> None:
        super().__init__(message, driver_error=driver_error)
        self.key = key
        self.suggestion = suggestion


class AwsConnectError(AwsWrapperError, OperationalError):
    """Opening a connection failed for a reason the wrapper detected (not a plain driver error)."""


class QueryTimeoutError(AwsWrapperError, OperationalError):
    """A network-bound call exceeded ``socket_timeout``; the connection was aborted and is unusable."""


class UnsupportedOperationError(AwsWrapperError, NotSupportedError):
    """The operation is not supported by this driver, dialect or plugin."""


class ReadWriteSplittingError(AwsWrapperError, InterfaceError):
    """Switching between the writer and a reader failed."""


class FailoverError(AwsWrapperError, OperationalError):
    """Base of the failover outcomes. The application should re-run its last unit of work."""


class FailoverSuccessError(FailoverError):
    """The connection failed outside a transaction and now points at a new host; session state was carried
    over. Re-run the statement that failed."""


class TransactionResolutionUnknownError(FailoverError):
    """The connection failed inside a transaction and now points at a new host. Whether the transaction
    committed is unknown: re-run the whole transaction (idempotently)."""


class FailoverFailedError(FailoverError):
    """No usable host could be reached within the failover timeout. The connection is unusable."""

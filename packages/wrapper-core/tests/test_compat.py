"""The upstream-compatible package ``aws_advanced_python_wrapper`` re-exports core under upstream's names."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import aws_advanced_python_wrapper
import aws_wrapper.core
from aws_wrapper.core import errors, session_state
from aws_wrapper.core.plugins import DevPlugin, ExceptionSimulatorManager

# catalogue 1.1: upstream's top-level __all__ (minus nothing)
UPSTREAM_TOP_LEVEL = [
    "AwsWrapperConnection", "connect", "release_resources", "set_logger", "__version__",
    "Warning", "Error", "InterfaceError", "DatabaseError", "DataError", "OperationalError", "IntegrityError",
    "InternalError", "ProgrammingError", "NotSupportedError", "Date", "Time", "Timestamp", "DateFromTicks",
    "TimeFromTicks", "TimestampFromTicks", "Binary", "STRING", "BINARY", "NUMBER", "DATETIME", "ROWID",
    "apilevel", "threadsafety", "paramstyle",
]  # fmt: skip


@pytest.mark.parametrize("name", UPSTREAM_TOP_LEVEL)
def test_top_level_names_are_core_objects(name: str) -> None:
    assert name in aws_advanced_python_wrapper.__all__
    assert getattr(aws_advanced_python_wrapper, name) is getattr(aws_wrapper.core, name)


def test_pep249_constants() -> None:
    compat = aws_advanced_python_wrapper
    assert (compat.apilevel, compat.threadsafety, compat.paramstyle) == ("2.0", 1, "pyformat")
    assert compat.STRING == 1043
    assert compat.NUMBER == 23
    assert compat.ROWID == 26


@pytest.mark.parametrize(
    ("module", "names", "source"),
    [
        (
            "aws_advanced_python_wrapper.errors",
            ["AwsWrapperError", "AwsConnectError", "QueryTimeoutError", "UnsupportedOperationError",
             "ReadWriteSplittingError", "FailoverError", "FailoverSuccessError",
             "TransactionResolutionUnknownError", "FailoverFailedError"],
            errors,
        ),
        (
            "aws_advanced_python_wrapper.pep249",
            ["Warning", "Error", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
             "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError"],
            errors,
        ),
        ("aws_advanced_python_wrapper.states", ["SessionStateTransferHandlers", "SessionState"], session_state),
        (
            "aws_advanced_python_wrapper.states.session_state_service",
            ["SessionStateTransferHandlers", "SessionState"],
            session_state,
        ),
    ],
)  # fmt: skip
def test_submodules_re_export_core(module: str, names: list[str], source: object) -> None:
    compat = importlib.import_module(module)
    for name in names:
        assert getattr(compat, name) is getattr(source, name), name


def test_developer_plugin_path() -> None:
    from aws_advanced_python_wrapper.developer_plugin import DeveloperPlugin
    from aws_advanced_python_wrapper.developer_plugin import ExceptionSimulatorManager as Manager

    assert DeveloperPlugin is DevPlugin
    assert Manager is ExceptionSimulatorManager


def test_failover_errors_are_operational_errors_and_keep_the_driver_error() -> None:
    from aws_advanced_python_wrapper.errors import FailoverSuccessError

    cause = ConnectionResetError("reset by peer")
    error = FailoverSuccessError("switched to a new writer", driver_error=cause)
    assert isinstance(error, aws_advanced_python_wrapper.OperationalError)
    assert isinstance(error, aws_advanced_python_wrapper.Error)
    assert error.driver_error is cause
    assert error.__cause__ is cause


def test_compat_package_is_typed_and_regular() -> None:
    root = Path(aws_advanced_python_wrapper.__file__).parent
    assert (root / "py.typed").is_file()
    assert (root / "__init__.py").is_file()
    assert (root / "states" / "__init__.py").is_file()

"""``dev``: developer fault injection.

Faults are armed process-wide through :class:`ExceptionSimulatorManager` and fire in whichever ``dev`` plugin sees
the next matching call first (one-shot). Callbacks stay installed until :meth:`ExceptionSimulatorManager.reset`.

Place ``dev`` where the fault should appear to come from: it has a relative weight, so ``plugins="failover,dev"``
puts it right inside ``failover``, and a network error raised there is handled by failover as if the server had
gone away.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ..hostinfo import HostInfo
from ..methods import ALL_METHODS, DbApiMethod
from ..plugin import ConnectProceed, Plugin, PluginFactory, RawConnection
from ..services import PluginContext
from ._calls_async import DevCallsAsync
from ._calls_sync import DevCalls

__all__ = [
    "ConnectCallback",
    "DevPlugin",
    "DevPluginFactory",
    "ExceptionSimulatorManager",
    "MethodCallback",
]

logger = logging.getLogger("aws_wrapper.core.plugins.developer_plugin")
T = TypeVar("T")

#: ``callback(host, props, initial)`` -> the exception to raise instead of connecting, or None.
ConnectCallback = Callable[[HostInfo, Mapping[str, Any], bool], "BaseException | None"]
#: ``callback(method, target)`` -> the exception to raise instead of the call, or None.
MethodCallback = Callable[[DbApiMethod, object], "BaseException | None"]

_ANY = "*"


class _Faults:
    """The armed faults. ``armed`` is read without the lock on the hot path (a stale read only delays a fault
    by the one call that raced with arming it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.armed = False
        self.next_connect: BaseException | None = None
        self.next_call: tuple[DbApiMethod | None, BaseException] | None = None
        self.connect_callback: ConnectCallback | None = None
        self.method_callback: MethodCallback | None = None

    def rearm(self) -> None:  # caller holds the lock
        self.armed = (
            self.next_connect is not None
            or self.next_call is not None
            or self.connect_callback is not None
            or self.method_callback is not None
        )

    def take_connect(self, host: HostInfo, props: Mapping[str, Any], initial: bool) -> BaseException | None:
        with self.lock:
            error = self.next_connect
            if error is not None:
                self.next_connect = None
                self.rearm()
                return error
            callback = self.connect_callback
        return None if callback is None else callback(host, props, initial)

    def take_call(self, method: DbApiMethod, target: object) -> BaseException | None:
        with self.lock:
            pending = self.next_call
            if pending is not None and (pending[0] is None or pending[0] is method):
                self.next_call = None
                self.rearm()
                return pending[1]
            callback = self.method_callback
        return None if callback is None else callback(method, target)


_FAULTS = _Faults()


def _check_error(error: object) -> BaseException:
    if not isinstance(error, BaseException):
        raise TypeError(f"expected an exception instance to raise, got {error!r}")
    return error


def _method_of(method: DbApiMethod | str) -> DbApiMethod | None:
    if isinstance(method, DbApiMethod):
        return method
    if not isinstance(method, str) or not method.strip():
        raise ValueError(
            f"method must be a DbApiMethod, a method name such as 'Cursor.execute' or '*', got {method!r}"
        )
    name = method.strip()
    return None if name == _ANY else DbApiMethod.by_name(name)


class ExceptionSimulatorManager:
    """Process-wide fault injection for every connection that has the ``dev`` plugin (static methods only)."""

    @staticmethod
    def raise_on_next_connect(error: BaseException) -> None:
        """Raise ``error`` instead of the next physical connect (``connect`` or ``force_connect``) through any
        ``dev`` plugin. One-shot."""
        error = _check_error(error)
        with _FAULTS.lock:
            _FAULTS.next_connect = error
            _FAULTS.rearm()

    @staticmethod
    def raise_on_next_call(error: BaseException, method: DbApiMethod | str = _ANY) -> None:
        """Raise ``error`` instead of the next DB-API call matching ``method`` (a :class:`DbApiMethod`, its name
        such as ``"Cursor.execute"``, or ``"*"`` for any call). One-shot."""
        error = _check_error(error)
        wanted = _method_of(method)
        with _FAULTS.lock:
            _FAULTS.next_call = (wanted, error)
            _FAULTS.rearm()

    @staticmethod
    def set_connect_callback(callback: ConnectCallback | None) -> None:
        """Ask ``callback(host, props, initial)`` before every connect; an exception it returns is raised."""
        with _FAULTS.lock:
            _FAULTS.connect_callback = callback
            _FAULTS.rearm()

    @staticmethod
    def set_method_callback(callback: MethodCallback | None) -> None:
        """Ask ``callback(method, target)`` before every DB-API call; an exception it returns is raised."""
        with _FAULTS.lock:
            _FAULTS.method_callback = callback
            _FAULTS.rearm()

    @staticmethod
    def reset() -> None:
        """Disarm every pending fault and remove both callbacks."""
        with _FAULTS.lock:
            _FAULTS.next_connect = None
            _FAULTS.next_call = None
            _FAULTS.connect_callback = None
            _FAULTS.method_callback = None
            _FAULTS.rearm()

    # Upstream's spellings (with its documented argument order: the error comes first).
    raise_exception_on_next_connect = raise_on_next_connect

    @staticmethod
    def raise_exception_on_next_method(error: BaseException, method_name: DbApiMethod | str = _ANY) -> None:
        ExceptionSimulatorManager.raise_on_next_call(error, method_name)


class DevPlugin(DevCallsAsync, DevCalls):
    """Raises the faults armed through :class:`ExceptionSimulatorManager`. Counts what it injected in
    ``injected``."""

    subscribed_methods = ALL_METHODS

    def __init__(self) -> None:
        self.injected = 0

    def _check_call(self, method: DbApiMethod, target: object) -> None:
        if _FAULTS.armed:
            error = _FAULTS.take_call(method, target)
            if error is not None:
                self._inject(error, method.api_name)

    def connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        if _FAULTS.armed:
            error = _FAULTS.take_connect(host, props, initial)
            if error is not None:
                self._inject(error, f"connect to {host.url}")
        return proceed(host, props, initial)

    def force_connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        if _FAULTS.armed:
            error = _FAULTS.take_connect(host, props, initial)
            if error is not None:
                self._inject(error, f"force_connect to {host.url}")
        return proceed(host, props, initial)

    def _inject(self, error: BaseException, where: str) -> None:
        self.injected += 1
        logger.debug("dev plugin: raising %r on %s", error, where)
        raise error.with_traceback(None)


class DevPluginFactory(PluginFactory):
    code = "dev"
    aliases = ("developer",)

    def create(self, context: PluginContext) -> Plugin:
        return DevPlugin()

"""What core does around a network-bound call when no plugin needs the full ``execute`` pipeline for it (ABI 1.1).

Most plugins that watch calls need only two things: to know that a call is in flight and since when (failure
monitoring) and to see the call's error (failover). Core does both itself, inline in the cursor's compiled call
path, so that such plugins cost no Python frame per call:

* a plugin with ``marks_calls`` makes core keep :class:`CallMark` ``since`` (and the driver's transaction status
  just before the call) for the current physical connection;
* a plugin with ``error_methods`` gets ``on_call_error(method, target, error)`` when such a call fails.

The guard itself and the pipeline links are written once, in ``_chain_async.py`` (``_chain_sync.py`` is generated
from it).
"""

from __future__ import annotations

from typing import NoReturn

from .errors import InterfaceError

__all__ = ["CallMark", "raise_closed"]


class CallMark:
    """The network-bound call in flight on one physical connection, kept by core for plugins with
    ``marks_calls`` (read it from any thread through ``context.connection.call_mark``).

    ``since`` is the ``time.monotonic()`` at which the outermost call in flight started, 0.0 when none is;
    ``status`` the driver's transaction status sampled just before that call (psycopg: ``pgconn.transaction_status``;
    None when the driver has no cheap source), kept after the call ends so that an error handler can read it.
    ``connection`` is the physical connection the mark belongs to; ``live`` turns False once the wrapper connection
    has replaced it or was closed (cursors bound to it then rebind or refuse).
    """

    __slots__ = ("__weakref__", "connection", "live", "since", "status")

    def __init__(self, connection: object = None) -> None:
        self.connection = connection
        self.since = 0.0
        self.status: object = None
        self.live = True


def raise_closed(error: Exception) -> NoReturn:
    if isinstance(error, InterfaceError) and "closed" in str(error):
        raise error
    raise InterfaceError(
        "the connection was closed while this call was running (close() from another thread); the call did "
        f"not complete: {type(error).__name__}"
    ) from error

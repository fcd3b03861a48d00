"""Process-wide cleanup: :func:`release_resources` and the exit hook that makes forgetting it harmless."""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable

from .monitors import MONITORS
from .storage import STORAGE

__all__ = ["release_resources", "on_release", "ensure_exit_hook"]

logger = logging.getLogger("aws_wrapper.core")
_lock = threading.Lock()
_hooks: list[Callable[[], None]] = []
_exit_hook_installed = False


def on_release(hook: Callable[[], None]) -> Callable[[], None]:
    """Register ``hook`` to run in :func:`release_resources` (once per distinct function)."""
    with _lock:
        if hook not in _hooks:
            _hooks.append(hook)
    return hook


def ensure_exit_hook() -> None:
    """Install the ``atexit`` hook (done lazily, when the first background resource is created)."""
    global _exit_hook_installed
    with _lock:
        if not _exit_hook_installed:
            atexit.register(_at_exit)
            _exit_hook_installed = True


def release_resources() -> None:
    """Stop every background monitor and thread of the wrapper, close cached clients and clear shared caches.

    Call it once when the application shuts down (after closing connections / disposing pools). Everything is
    created again lazily if the wrapper is used afterwards.
    """
    MONITORS.stop_all()
    with _lock:
        hooks = list(_hooks)
    for hook in hooks:
        try:
            hook()
        except Exception:  # one failing package must not stop the others from releasing
            logger.warning("release hook %r failed", hook, exc_info=True)
    STORAGE.clear()


def _at_exit() -> None:
    MONITORS.stop_all(timeout=0.5)

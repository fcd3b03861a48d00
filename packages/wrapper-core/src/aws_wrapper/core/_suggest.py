"""A connection property the driver rejects as unknown becomes an :class:`UnknownSettingError` that names it and
suggests the closest known name (the wrapper's settings, every installed plugin's, and the driver's parameters).

mysql-connector rejects an unknown keyword with ``AttributeError: Unsupported argument 'x'``; psycopg (libpq) with
``ProgrammingError: invalid connection option "x"``. Both happen before any server is contacted. The driver's
error stays the ``__cause__``; no property value appears in the message.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import UnknownSettingError

__all__ = ["unknown_setting_error", "suggest", "driver_parameter_names"]

_REJECTIONS = (
    re.compile(r"^Unsupported argument '([^']+)'"),  # mysql-connector (pure Python and C extension)
    re.compile(r"invalid connection option \"([^\"]+)\""),  # libpq, through psycopg
)

_DRIVER_LABELS = {
    "psycopg": "psycopg (libpq) connection parameter",
    "mysql-connector-python": "mysql-connector argument",
}


def _rejected_key(error: BaseException, args: Mapping[str, Any]) -> str | None:
    if not isinstance(error, Exception):
        return None
    module = type(error).__module__ or ""
    if not (isinstance(error, AttributeError) or module.startswith(("psycopg", "mysql"))):
        return None
    text = str(error)
    for pattern in _REJECTIONS:
        match = pattern.search(text)
        if match is not None and match.group(1) in args:
            return match.group(1)
    return None


def driver_parameter_names(driver_code: str) -> frozenset[str]:
    """The parameter names the driver itself accepts (empty when they cannot be told)."""
    names: set[str] = set()
    try:
        if driver_code == "psycopg" and "psycopg" in sys.modules:
            from psycopg import pq

            names.update(o.keyword.decode() for o in pq.Conninfo.get_defaults())
            # keyword arguments of psycopg.Connection.connect itself
            names.update(("autocommit", "prepare_threshold", "context", "row_factory", "cursor_factory"))
        elif driver_code == "mysql-connector-python" and "mysql.connector" in sys.modules:
            from mysql.connector.constants import DEFAULT_CONFIGURATION

            names.update(DEFAULT_CONFIGURATION)
            names.update(
                ("username", "passwd", "db", "option_files", "option_groups", "pool_name", "pool_size")
            )
    except Exception:  # best effort: a suggestion is a convenience
        pass
    return frozenset(n for n in names if n.isidentifier() and not n.startswith("_"))


def suggest(key: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``key`` (case and ``-``/``_`` ignored), if any is close enough."""
    by_normal: dict[str, str] = {}
    for name in sorted(candidates):
        by_normal.setdefault(name.lower().replace("-", "_"), name)
    found = difflib.get_close_matches(key.lower().replace("-", "_"), list(by_normal), n=1, cutoff=0.75)
    return by_normal[found[0]] if found else None


def unknown_setting_error(
    error: BaseException, args: Mapping[str, Any], driver_code: str
) -> UnknownSettingError | None:
    """The :class:`UnknownSettingError` for a driver's rejection of one of ``args``' keys, or None when ``error``
    is something else."""
    key = _rejected_key(error, args)
    if key is None:
        return None
    from ._runtime import wrapper_keys

    names, _prefixes = wrapper_keys()
    candidates = set(names) | driver_parameter_names(driver_code)
    candidates.discard(key)
    suggestion = suggest(key, candidates)
    label = _DRIVER_LABELS.get(driver_code, f"{driver_code} parameter")
    message = f"unknown setting {key!r}: it is neither an aws-wrapper setting nor a {label}"
    message += f"; did you mean {suggestion!r}?" if suggestion else " (check its spelling)"
    return UnknownSettingError(message, key=key, suggestion=suggestion, driver_error=error)

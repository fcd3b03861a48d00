"""Which dialects exist: the built-in ones, those registered under the entry-point group ``aws_wrapper.dialects``
(entry-point name = dialect code, value = a :class:`Dialect` or a no-argument callable returning one), and those
added at run time with :func:`register_dialect`. Plus the one custom dialect (:func:`set_custom_dialect`).
"""

from __future__ import annotations

import logging
import threading

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.services import DatabaseDialect

from ._builtin import BUILTIN_DIALECTS
from ._dialect import Dialect

__all__ = ["DialectRegistry", "DIALECTS", "ENTRY_POINT_GROUP", "CUSTOM"]

logger = logging.getLogger("aws_wrapper.dialects")

ENTRY_POINT_GROUP = "aws_wrapper.dialects"
CUSTOM = "custom"


class DialectRegistry:
    def __init__(self, *, load_entry_points: bool = True) -> None:
        self._lock = threading.RLock()
        self._load_entry_points = load_entry_points
        self._dialects: dict[str, DatabaseDialect] | None = None
        self._origins: dict[str, str] = {}
        self._custom: DatabaseDialect | None = None

    def _all(self) -> dict[str, DatabaseDialect]:
        with self._lock:
            if self._dialects is None:
                dialects: dict[str, DatabaseDialect] = {}
                for dialect in BUILTIN_DIALECTS:
                    dialects[dialect.code] = dialect
                    self._origins[dialect.code] = "aws-wrapper-dialects"
                if self._load_entry_points:
                    self._load(dialects)
                self._dialects = dialects
            return self._dialects

    def _load(self, dialects: dict[str, DatabaseDialect]) -> None:
        from aws_wrapper.core.registry import (
            REGISTRY,  # one scan of the installed distributions for every group
        )

        for ep in REGISTRY.entry_points(ENTRY_POINT_GROUP):
            origin = ep.dist.name if ep.dist is not None else ep.value
            try:
                loaded = ep.load()
                dialect = loaded if isinstance(loaded, Dialect) or not callable(loaded) else loaded()
                _check(dialect)
            except Exception as exc:  # one broken distribution must not break the others
                logger.warning("dialect %r from %s could not be loaded: %s", ep.name, origin, exc)
                continue
            code = dialect.code.strip().lower()
            if code != ep.name:
                logger.warning(
                    "dialect entry point %r of %s holds code %r; using %r", ep.name, origin, code, code
                )
            existing = dialects.get(code)
            if existing is dialect:
                continue
            if existing is not None:
                logger.warning(
                    "dialect code %r is provided by both %s and %s; keeping the one from %s",
                    code,
                    self._origins[code],
                    origin,
                    self._origins[code],
                )
                continue
            dialects[code] = dialect
            self._origins[code] = origin

    # -- lookup ----------------------------------------------------------------------------------------------
    def get(self, code: str) -> DatabaseDialect | None:
        key = code.strip().lower()
        if key == CUSTOM:
            return self._custom
        return self._all().get(key)

    def codes(self) -> list[str]:
        return sorted(self._all())

    def origin(self, code: str) -> str | None:
        self._all()
        return self._origins.get(code)

    def candidates(self, dialect: DatabaseDialect) -> list[Dialect]:
        """Dialects to probe once ``dialect`` is in use: registered dialects that declare they refine it
        (highest ``priority`` first), then its own ``candidates`` in order."""
        if not isinstance(dialect, Dialect):
            return []
        everything = self._all()
        refiners = [
            d
            for d in everything.values()
            if isinstance(d, Dialect) and dialect.code in d.refines and d.engine == dialect.engine
        ]
        refiners.sort(key=lambda d: -d.priority)
        result: list[Dialect] = list(refiners)
        for code in dialect.candidates:
            candidate = everything.get(code)
            if (
                isinstance(candidate, Dialect)
                and candidate.engine == dialect.engine
                and candidate not in result
            ):
                result.append(candidate)
        return result

    # -- changes ---------------------------------------------------------------------------------------------
    def register(self, dialect: DatabaseDialect, *, replace: bool = False) -> None:
        _check(dialect)
        code = dialect.code.strip().lower()
        if code in (CUSTOM, "unknown"):
            raise ConfigurationError(
                f"dialect code {code!r} is reserved; use set_custom_dialect() for 'custom'"
            )
        with self._lock:
            dialects = self._all()
            existing = dialects.get(code)
            if existing is not None and existing is not dialect and not replace:
                raise ConfigurationError(
                    f"dialect code {code!r} is already registered (by {self._origins.get(code)}); "
                    "pass replace=True to replace it"
                )
            dialects[code] = dialect
            self._origins[code] = "register_dialect()"

    def unregister(self, code: str) -> None:
        key = code.strip().lower()
        with self._lock:
            if any(d.code == key for d in BUILTIN_DIALECTS):
                raise ConfigurationError(f"the built-in dialect {key!r} cannot be removed")
            self._all().pop(key, None)
            self._origins.pop(key, None)

    @property
    def custom(self) -> DatabaseDialect | None:
        return self._custom

    def set_custom(self, dialect: DatabaseDialect | None) -> None:
        if dialect is not None:
            _check(dialect)
        self._custom = dialect


def _check(dialect: object) -> None:
    for attr in ("code", "engine", "default_port", "errors", "create_host_list_provider"):
        if not hasattr(dialect, attr):
            raise ConfigurationError(f"{dialect!r} is not a database dialect: it has no {attr!r}")
    code = getattr(dialect, "code", None)
    if not isinstance(code, str) or not code.strip():
        raise ConfigurationError(f"{dialect!r} is not a database dialect: its code {code!r} is not a name")
    engine = getattr(dialect, "engine", None)
    if engine not in ("pg", "mysql"):
        raise ConfigurationError(f"dialect {code!r} has engine {engine!r}: expected 'pg' or 'mysql'")


DIALECTS = DialectRegistry()

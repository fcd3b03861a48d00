"""Typed settings: each package declares its own next to its code and parses them once per connection.

A :class:`Setting` knows its name, parser, default and description. ``setting.get(props)`` returns the parsed
value or raises :class:`~aws_wrapper.core.errors.ConfigurationError` naming the setting and the value (the values
of secret settings, and of settings whose name says password, secret or token, are masked).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from ._secrets import is_secret_key
from .errors import ConfigurationError
from .records import record

__all__ = [
    "Setting",
    "Properties",
    "boolean",
    "integer",
    "number",
    "text",
    "choice",
    "optional",
    "parse_bool",
    "core_settings",
]

T = TypeVar("T")
Properties = dict[str, Any]

_TRUE = frozenset({"true", "1", "yes", "on", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "off", "n", "f"})


@record(frozen=True)
class Setting(Generic[T]):
    name: str
    parse: Callable[[object], T]
    default: T
    description: str
    secret: bool = False
    type_name: str = ""

    def get(self, props: Mapping[str, object]) -> T:
        raw = props.get(self.name)
        if raw is None or (raw == "" and self.default is None):
            return self.default
        try:
            return self.parse(raw)
        except (ValueError, TypeError) as exc:
            shown = "'***'" if self.secret or is_secret_key(self.name) else repr(raw)
            raise ConfigurationError(f"invalid value {shown} for setting {self.name!r}: {exc}") from None

    def is_set(self, props: Mapping[str, object]) -> bool:
        return props.get(self.name) is not None


def parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise ValueError("expected a boolean (true/false, 1/0, yes/no, on/off)")


def _bounded(
    kind: str, conv: Callable[[object], Any], low: float | None, high: float | None
) -> Callable[[object], Any]:
    def parse(value: object) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"expected {kind}, got a boolean")
        if isinstance(value, str):
            value = value.strip()
        try:
            result = conv(value)
        except (ValueError, TypeError):
            raise ValueError(f"expected {kind}") from None
        if low is not None and result < low:
            raise ValueError(f"must be at least {low:g}")
        if high is not None and result > high:
            raise ValueError(f"must be at most {high:g}")
        return result

    return parse


def _to_int(value: object) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not an integer")
        return int(value)
    if isinstance(value, (int, str)):
        return int(value)
    raise TypeError("not an integer")


def _to_float(value: object) -> float:
    if isinstance(value, (int, float, str)):
        result = float(value)
        if result != result or result in (float("inf"), float("-inf")):
            raise ValueError("not finite")
        return result
    raise TypeError("not a number")


def _to_text(value: object) -> str:
    if isinstance(value, str):
        return value
    raise TypeError("expected a string")


def boolean(name: str, default: bool, description: str) -> Setting[bool]:
    return Setting(name, parse_bool, default, description, type_name="bool")


def integer(
    name: str, default: int, description: str, *, min: int | None = None, max: int | None = None
) -> Setting[int]:
    return Setting(name, _bounded("an integer", _to_int, min, max), default, description, type_name="int")


def number(
    name: str, default: float, description: str, *, min: float | None = None, max: float | None = None
) -> Setting[float]:
    return Setting(name, _bounded("a number", _to_float, min, max), default, description, type_name="float")


def text(name: str, default: str, description: str, *, secret: bool = False) -> Setting[str]:
    return Setting(name, _to_text, default, description, secret=secret, type_name="str")


def choice(name: str, default: str, values: Iterable[str], description: str) -> Setting[str]:
    """A string from a fixed set. Matching ignores case and treats ``-`` and ``_`` alike; the canonical
    spelling (the one in ``values``) is returned."""
    canonical = {v.lower().replace("-", "_"): v for v in values}

    def parse(value: object) -> str:
        key = _to_text(value).strip().lower().replace("-", "_")
        if key not in canonical:
            raise ValueError(f"expected one of {', '.join(sorted(canonical.values()))}")
        return canonical[key]

    return Setting(name, parse, default, description, type_name="choice")


def optional(setting: Setting[T]) -> Setting[T | None]:
    """The same setting with ``None`` as default (unset)."""
    return Setting(setting.name, setting.parse, None, setting.description, setting.secret, setting.type_name)


_core_settings: Mapping[str, Setting[Any]] | None = None


def core_settings() -> Mapping[str, Setting[Any]]:
    """Core's own settings by name (``plugins``, ``wrapper_dialect``, ``auxiliary_query_timeout_sec``,
    ``connect_timeout``, ``socket_timeout``, ``tcp_keepalive``, ...), read-only: for a package that reads one of them
    (``core_settings()["wrapper_dialect"].get(props)``) or validates prefixed copies of them
    (``monitoring-connect_timeout``)."""
    global _core_settings
    if _core_settings is None:
        from ._config import CORE_SETTINGS  # core's settings module imports this one

        _core_settings = MappingProxyType({setting.name: setting for setting in CORE_SETTINGS})
    return _core_settings

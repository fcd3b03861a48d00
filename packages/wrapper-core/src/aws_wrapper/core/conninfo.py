"""Connection strings: libpq ``key=value`` strings (with quoting) and URLs (``postgresql://``, ``mysql://``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

from .errors import ConfigurationError

__all__ = ["parse_conninfo", "render_conninfo"]

_URL_SCHEMES = ("postgresql", "postgres", "mysql", "mariadb")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def parse_conninfo(conninfo: str) -> dict[str, str]:
    """Parse a conninfo string into a dict. URLs map ``/dbname`` to ``database``; ``key=value`` strings keep
    their keys. Raises :class:`ConfigurationError` naming the position of the problem."""
    if not isinstance(conninfo, str):
        raise ConfigurationError(f"conninfo must be a string, got {type(conninfo).__name__}")
    text = conninfo.strip()
    if not text:
        return {}
    scheme, sep, _ = text.partition("://")
    if sep and scheme.lower() in _URL_SCHEMES:
        return _parse_url(text)
    return _parse_pairs(text)


def _parse_pairs(text: str) -> dict[str, str]:
    result: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        match = _KEY.match(text, i)
        if match is None:
            raise ConfigurationError(
                f"malformed conninfo at position {i}: expected a key, found {text[i : i + 10]!r}"
            )
        key = match.group()
        i = match.end()
        while i < n and text[i].isspace():
            i += 1
        if i >= n or text[i] != "=":
            raise ConfigurationError(f"malformed conninfo: missing '=' after key {key!r}")
        i += 1
        while i < n and text[i].isspace():
            i += 1
        value_chars: list[str] = []
        if i < n and text[i] == "'":
            i += 1
            while True:
                if i >= n:
                    raise ConfigurationError(f"malformed conninfo: unterminated quoted value for key {key!r}")
                ch = text[i]
                if ch == "\\" and i + 1 < n:
                    value_chars.append(text[i + 1])
                    i += 2
                elif ch == "'":
                    i += 1
                    break
                else:
                    value_chars.append(ch)
                    i += 1
            if i < n and not text[i].isspace():
                raise ConfigurationError(
                    f"malformed conninfo: unexpected {text[i]!r} after quoted value of {key!r}"
                )
        else:
            while i < n and not text[i].isspace():
                if text[i] == "\\" and i + 1 < n:
                    value_chars.append(text[i + 1])
                    i += 2
                else:
                    value_chars.append(text[i])
                    i += 1
        result[key] = "".join(value_chars)
    return result


def _parse_url(text: str) -> dict[str, str]:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"malformed connection url: {exc}") from None
    netloc_host = parts.netloc.rpartition("@")[2]
    if "," in netloc_host:
        raise ConfigurationError(f"multiple hosts are not supported in a connection url: {netloc_host!r}")
    result: dict[str, str] = {}
    if parts.username:
        result["user"] = unquote(parts.username)
    if parts.password is not None:
        result["password"] = unquote(parts.password)
    if parts.hostname:
        host = unquote(parts.hostname)
        result["host"] = host
    if port is not None:
        result["port"] = str(port)
    path = parts.path.lstrip("/")
    if path:
        result["database"] = unquote(path)
    for key, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
        result[key] = value
    return result


def render_conninfo(props: Mapping[str, object]) -> str:
    """Render ``props`` as a ``key=value`` string that :func:`parse_conninfo` reads back unchanged."""
    out = []
    for key, value in props.items():
        if not _KEY.fullmatch(key):
            raise ConfigurationError(f"cannot render conninfo key {key!r}")
        text = "" if value is None else str(value)
        if text == "" or any(c.isspace() or c in "'\\" for c in text):
            text = "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
        out.append(f"{key}={text}")
    return " ".join(out)

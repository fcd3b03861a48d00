"""Masking of secret-bearing connection properties in reprs (debuggers and error reporters capture them).

A key is secret when, ignoring case, ``_`` and ``-``, it contains ``password``, ``passwd``, ``secret``, ``token``,
``credential``, ``privatekey`` or ``apikey``, or is ``pwd``: ``password``, ``sslpassword``, ``idp_password``,
``aws_secret_access_key``, ``aws_session_token``, ``iam_token``, ``oauth_client_secret``, ... A password inside
a connection URL value (``mysql://user:pw@host``) is masked too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["MASK", "is_secret_key", "masked_props", "masked_dataclass_repr"]

#: What a secret value is shown as.
MASK = "***"

_SECRET_PARTS = ("password", "passwd", "secret", "token", "credential", "privatekey", "apikey")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


def is_secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    normalized = key.lower().replace("_", "").replace("-", "")
    return normalized == "pwd" or any(part in normalized for part in _SECRET_PARTS)


def _masked_value(value: object) -> object:
    if isinstance(value, str) and "://" in value:
        return _URL_PASSWORD.sub(rf"\g<1>{MASK}@", value)
    return value


def masked_props(props: Mapping[Any, Any]) -> dict[Any, Any]:
    """A copy of ``props`` for display: secret values replaced by ``'***'`` (nested mappings too)."""
    result: dict[Any, Any] = {}
    for key, value in props.items():
        if is_secret_key(key) and value is not None:
            result[key] = MASK
        elif isinstance(value, Mapping):
            result[key] = masked_props(value)
        else:
            result[key] = _masked_value(value)
    return result


def masked_dataclass_repr(obj: Any) -> str:
    """The repr of the record or dataclass ``obj`` with every mapping field shown through :func:`masked_props`."""
    parts = []
    for field in _fields(obj):
        if not field.repr:
            continue
        value = getattr(obj, field.name)
        if isinstance(value, Mapping):
            value = masked_props(value)
        parts.append(f"{field.name}={value!r}")
    return f"{type(obj).__qualname__}({', '.join(parts)})"


def _fields(obj: Any) -> Any:
    if hasattr(obj, "__record_fields__"):
        from .records import fields

        return fields(obj)
    import dataclasses

    return dataclasses.fields(obj)

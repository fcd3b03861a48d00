"""The IAM token verifier of the local cluster's IAM mode: what RDS does with the password of an IAM user.

Standard library only: the cluster copies this file into its work directory, and each server runs it through PAM
(libpam-python, ``pam_python.so``) with ``/usr/bin/python3`` embedded in the server process -- a PostgreSQL
backend or mariadbd, under the server's OS user. The PAM stack passes the path of the cluster's JSON
configuration as the module's argument.

A token is accepted when all of these hold:

* it is ``HOST:PORT/?<query>`` with ``Action=connect``, ``DBUser`` = the login user, ``X-Amz-Algorithm =
  AWS4-HMAC-SHA256``, ``X-Amz-SignedHeaders = host`` and a credential scope ``<key id>/<day>/<region>/rds-db/
  aws4_request`` whose day is the day of ``X-Amz-Date`` and whose region is the cluster's;
* ``HOST`` is a name through which clients reach this instance (its proxy address, its RDS-shaped names, the
  cluster's writer and reader endpoints, extra names from the configuration) and ``PORT`` the cluster's port;
* it is not expired (``X-Amz-Date + X-Amz-Expires``, at most 900 s) nor dated in the future (beyond the allowed
  clock skew);
* the SigV4 signature matches the secret of the access key id: a static key of the configuration, or temporary
  credentials that moto's STS issued (``/moto-api/data.json`` of the configured moto server), whose session token
  must then be the token's ``X-Amz-Security-Token``.

Every decision is appended to the configuration's log as one JSON line (instance, user, result, reason, the
signed host and port, the key id, and a short SHA-256 digest of the token: never the token itself).

Run it as a script to check one token by hand: ``python3 verifier.py CONFIG USER TOKEN [DATA_DIR]``.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.parse
from typing import Any

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "rds-db"
MAX_EXPIRES = 900
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class Rejected(Exception):
    """The token is not acceptable; the message says why (never containing the token)."""


def load_config(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        config: dict[str, Any] = json.load(handle)
    return config


def instance_of(config: dict[str, Any], data_dir: str) -> dict[str, Any] | None:
    """The configuration of the instance whose data directory is ``data_dir`` (the server's working directory)."""
    real = os.path.realpath(data_dir)
    for instance in config.get("instances", []):
        if os.path.realpath(str(instance.get("data_dir", ""))) == real:
            return dict(instance)
    return None


def _epoch(amz_date: str) -> float:
    """Seconds since the epoch of an ``X-Amz-Date`` (``20261203T172132Z``). No ``datetime.strptime``: a
    server process that authenticates many logins re-initialises the embedded interpreter between them (PAM
    unloads its modules at ``pam_end``), and ``_datetime``'s cached reference to ``_strptime`` does not survive
    that."""
    if len(amz_date) != 16 or amz_date[8] != "T" or amz_date[15] != "Z":
        raise Rejected("malformed X-Amz-Date")
    digits = amz_date[:8] + amz_date[9:15]
    if not digits.isdigit():
        raise Rejected("malformed X-Amz-Date")
    fields = (int(digits[0:4]), int(digits[4:6]), int(digits[6:8]), int(digits[8:10]), int(digits[10:12]))
    seconds = int(digits[12:14])
    if not (
        1 <= fields[1] <= 12 and 1 <= fields[2] <= 31 and fields[3] < 24 and fields[4] < 60 and seconds < 61
    ):
        raise Rejected("malformed X-Amz-Date")
    return float(calendar.timegm((*fields, seconds, 0, 0, 0)))


def _host_header(netloc: str) -> str:
    """The ``host`` header botocore signed for ``netloc``: the host name lowercased (as ``urlsplit`` gives it),
    the port unless it is 443."""
    parts = urllib.parse.urlsplit("https://" + netloc)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != 443:
        host = f"{host}:{parts.port}"
    return host


def _encode(text: str) -> str:
    return urllib.parse.quote(text, safe="-_.~")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def signature(secret: str, day: str, region: str, string_to_sign: str) -> str:
    key = _hmac(("AWS4" + secret).encode("utf-8"), day)
    key = _hmac(key, region)
    key = _hmac(key, SERVICE)
    key = _hmac(key, "aws4_request")
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def parse_token(token: str) -> tuple[str, str, list[tuple[str, str]], str]:
    """(netloc, signed query pairs in the token's order, decoded, the unsigned raw query, the signature)."""
    netloc, sep, query = token.partition("/?")
    if not sep or not netloc or not query:
        raise Rejected("not an RDS auth token (expected HOST:PORT/?Action=connect&...)")
    raw_pairs = query.split("&")
    pairs: list[tuple[str, str]] = []
    given_signature = ""
    for raw in raw_pairs:
        name, _, value = raw.partition("=")
        name, value = urllib.parse.unquote(name), urllib.parse.unquote(value)
        if name == "X-Amz-Signature":
            given_signature = value
        else:
            pairs.append((name, value))
    if not given_signature:
        raise Rejected("the token carries no signature")
    return netloc, query, pairs, given_signature


def _moto_credentials(moto_url: str, key_id: str, timeout: float = 5.0) -> dict[str, str] | None:
    """The temporary (or IAM) credentials moto knows for ``key_id``, from its state dump."""
    import urllib.request  # only here: the module weighs tens of milliseconds, paid by every login otherwise

    url = moto_url.rstrip("/") + "/moto-api/data.json"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    with opener.open(url, timeout=timeout) as response:
        data = json.loads(response.read().decode("utf-8"))
    stack: list[Any] = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("access_key_id") == key_id and "secret_access_key" in item:
                return {
                    "secret": str(item["secret_access_key"]),
                    "session_token": str(item.get("session_token") or ""),
                }
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def credentials_for(config: dict[str, Any], key_id: str) -> tuple[dict[str, str], str]:
    """(credentials, kind) of ``key_id``: a static key of the configuration, else moto's."""
    keys = config.get("keys", {})
    if key_id in keys:
        return {"secret": str(keys[key_id]), "session_token": ""}, "static"
    moto_url = config.get("moto_url")
    if moto_url:
        try:
            found = _moto_credentials(str(moto_url), key_id)
        except (OSError, ValueError) as exc:
            raise Rejected(f"cannot ask moto at {moto_url} for access key {key_id!r}: {exc}") from None
        if found is not None:
            return found, "sts"
    raise Rejected(f"unknown access key id {key_id!r}")


def verify(
    config: dict[str, Any],
    user: str,
    token: str,
    instance: dict[str, Any] | None,
    now: float | None = None,
    info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Check ``token`` for a login of ``user`` on ``instance``; returns what was signed (host, port, key id,
    kind) or raises :class:`Rejected`. ``info``, when given, receives those as far as they were read (also
    when the token is rejected)."""
    now = time.time() if now is None else now
    netloc, _query, pairs, given = parse_token(token)
    params = dict(pairs)
    info = {} if info is None else info
    host, _, port_text = netloc.rpartition(":")
    if not host or not port_text.isdigit():
        raise Rejected(f"the token names no host:port ({netloc!r})")
    host = host.lower().rstrip(".")
    info.update(host=host, port=int(port_text))
    credential = params.get("X-Amz-Credential", "")
    parts = credential.split("/")
    if len(parts) != 5:
        raise Rejected("malformed X-Amz-Credential")
    key_id, day, region, service, terminator = parts
    info["key_id"] = key_id
    if params.get("Action") != "connect":
        raise Rejected("Action is not 'connect'")
    if params.get("X-Amz-Algorithm") != ALGORITHM:
        raise Rejected(f"X-Amz-Algorithm is not {ALGORITHM}")
    if params.get("X-Amz-SignedHeaders") != "host":
        raise Rejected("X-Amz-SignedHeaders is not 'host'")
    if service != SERVICE or terminator != "aws4_request":
        raise Rejected(f"the credential scope is not for {SERVICE}")
    if params.get("DBUser") != user:
        raise Rejected(f"the token is for DBUser {params.get('DBUser')!r}, the login is for {user!r}")
    expected_region = str(config.get("region", "us-east-1"))
    if region != expected_region:
        raise Rejected(f"the token is signed for region {region!r}, the cluster is in {expected_region!r}")
    if int(port_text) != int(config.get("port", 0)):
        raise Rejected(
            f"the token is signed for port {port_text}, the cluster listens on {config.get('port')}"
        )
    allowed = {str(h).lower() for h in config.get("cluster_hosts", [])}
    if instance is not None:
        allowed.update(str(h).lower() for h in instance.get("hosts", []))
    else:
        for other in config.get("instances", []):
            allowed.update(str(h).lower() for h in other.get("hosts", []))
    if host not in allowed:
        raise Rejected(f"the token is signed for host {host!r}, which is not a name of this instance")
    amz_date = params.get("X-Amz-Date", "")
    start = _epoch(amz_date)
    if amz_date[:8] != day:
        raise Rejected("the credential scope's day is not the day of X-Amz-Date")
    try:
        expires = int(params.get("X-Amz-Expires", ""))
    except ValueError:
        raise Rejected("malformed X-Amz-Expires") from None
    if not 0 < expires <= MAX_EXPIRES:
        raise Rejected(f"X-Amz-Expires must be 1..{MAX_EXPIRES}, got {expires}")
    skew = float(config.get("max_skew", 300))
    if now > start + expires:
        raise Rejected(f"the token expired {now - start - expires:.0f} s ago")
    if start > now + skew:
        raise Rejected(f"the token is dated {start - now:.0f} s in the future")
    credentials, kind = credentials_for(config, key_id)
    info["kind"] = kind
    if params.get("X-Amz-Security-Token", "") != credentials["session_token"]:
        raise Rejected(f"the session token does not belong to access key {key_id!r}")
    canonical_query = "&".join(
        f"{k}={v}" for k, v in sorted((_encode(name), _encode(value)) for name, value in pairs)
    )
    canonical_request = f"GET\n/\n{canonical_query}\nhost:{_host_header(netloc)}\n\nhost\n{_EMPTY_SHA256}"
    string_to_sign = "\n".join(
        [
            ALGORITHM,
            amz_date,
            f"{day}/{region}/{SERVICE}/aws4_request",
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )
    expected = signature(credentials["secret"], day, region, string_to_sign)
    if not hmac.compare_digest(expected, given):
        raise Rejected("the signature does not match")
    return info


def record(config: dict[str, Any], entry: dict[str, Any]) -> None:
    """Append ``entry`` to the configuration's log (one JSON line, one write: lines of concurrent logins never
    interleave)."""
    path = config.get("log")
    if not path:
        return
    line = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(str(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def authenticate(config_path: str, user: str, token: str, data_dir: str) -> tuple[bool, str]:
    """Verify and log one login; (accepted, reason)."""
    entry: dict[str, Any] = {"t": time.time(), "user": user, "pid": os.getpid()}
    config: dict[str, Any] = {}
    try:
        config = load_config(config_path)
        instance = instance_of(config, data_dir)
        entry["instance"] = instance.get("id") if instance is not None else None
        entry["token_sha256"] = hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]
        verify(config, user, token, instance, info=entry)
        entry.update(ok=True, reason="accepted")
    except Rejected as exc:
        entry.update(ok=False, reason=str(exc))
    except Exception as exc:  # a verifier bug must refuse the login, never let it through
        entry.update(ok=False, reason=f"verifier error: {type(exc).__name__}: {exc}")
    try:
        record(config, entry)
    except OSError:
        pass
    return bool(entry["ok"]), str(entry["reason"])


# -- the PAM module (libpam-python) ------------------------------------------------------------------------------


def pam_sm_authenticate(pamh: Any, flags: int, argv: list[str]) -> int:
    try:
        config_path = argv[1]
        user = pamh.get_user(None)
        if not user:
            return int(pamh.PAM_USER_UNKNOWN)
        response = pamh.conversation(pamh.Message(pamh.PAM_PROMPT_ECHO_OFF, "Password: "))
        token = response.resp or ""
    except Exception:
        return int(pamh.PAM_AUTH_ERR)
    accepted, _reason = authenticate(config_path, str(user), str(token), os.getcwd())
    return int(pamh.PAM_SUCCESS if accepted else pamh.PAM_AUTH_ERR)


def pam_sm_setcred(pamh: Any, flags: int, argv: list[str]) -> int:
    return int(pamh.PAM_SUCCESS)


def pam_sm_acct_mgmt(pamh: Any, flags: int, argv: list[str]) -> int:
    return int(pamh.PAM_SUCCESS)


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        print("usage: verifier.py CONFIG USER TOKEN [DATA_DIR]", file=sys.stderr)
        return 2
    accepted, reason = authenticate(argv[0], argv[1], argv[2], argv[3] if len(argv) == 4 else os.getcwd())
    print(("accepted" if accepted else "rejected") + f": {reason}")
    return 0 if accepted else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""A stand-in for the RDS Query API on loopback, for the three custom-endpoint actions moto 5 lacks:
``CreateDBClusterEndpoint``, ``DescribeDBClusterEndpoints`` and ``ModifyDBClusterEndpoint`` (plus
``DeleteDBClusterEndpoint``). It serves one local cluster and reads and changes that cluster's custom endpoints
(``LocalCluster.create_custom_endpoint`` and friends), so the API and the endpoint proxies never disagree.

Point boto3 at it with ``endpoint_url=api.endpoint_url`` or ``AWS_ENDPOINT_URL_RDS``. Requests are not
authenticated (any fake credentials do). Other actions answer ``400 InvalidAction``: use ``MotoServer`` for them.
``requests`` counts the requests per action.
"""

from __future__ import annotations

import collections
import logging
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from ._errors import ClusterError

__all__ = ["RdsApi"]

log = logging.getLogger("aws_wrapper.testing")

_NS = "http://rds.amazonaws.com/doc/2014-10-31/"
_LIST_FIELDS = ("StaticMembers", "ExcludedMembers")


class RdsApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


Backend = Callable[[str, dict[str, Any]], Any]


def _members(params: dict[str, str], name: str) -> list[str] | None:
    keys = sorted(
        (k for k in params if k.startswith(f"{name}.member.")), key=lambda k: int(k.rsplit(".", 1)[1])
    )
    if not keys:
        return [] if name in params else None  # "StaticMembers=" is an empty list
    return [params[k] for k in keys]


def _filters(params: dict[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    i = 1
    while f"Filters.Filter.{i}.Name" in params:
        values = _members(
            {k.replace(f"Filters.Filter.{i}.Values.Value.", "V.member."): v for k, v in params.items()}, "V"
        )
        found[params[f"Filters.Filter.{i}.Name"]] = values or []
        i += 1
    return found


def _xml(value: Any, tag: str) -> str:
    if isinstance(value, list):
        inner = "".join(_xml(v, "member") for v in value)
        return f"<{tag}>{inner}</{tag}>"
    if isinstance(value, dict):
        inner = "".join(_xml(v, k) for k, v in value.items())
        return f"<{tag}>{inner}</{tag}>"
    return f"<{tag}>{escape(str(value))}</{tag}>"


class RdsApi:
    """The HTTP server; ``backend(action, params)`` does the work (the cluster's custom endpoints)."""

    def __init__(self, backend: Backend, host: str = "127.0.0.1", port: int = 0) -> None:
        self._backend = backend
        self._host = host
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: collections.Counter[str] = collections.Counter()

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise ClusterError("the RDS API stand-in is not running")
        return f"http://{self._host}:{self._server.server_address[1]}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> RdsApi:
        if self._server is not None:
            return self
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("rds api: %s", format % args)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                params = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
                status, payload = api.handle(params)
                data = payload.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer((self._host, self._port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="rds-api-stand-in", daemon=True
        )
        self._thread.start()
        log.info("RDS API stand-in on %s", self.endpoint_url)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    def handle(self, params: dict[str, str]) -> tuple[int, str]:
        action = params.get("Action", "")
        self.requests[action] += 1
        request_id = str(uuid.uuid4())
        try:
            result = self._dispatch(action, params)
        except RdsApiError as exc:
            return exc.status, _error(exc.code, exc.message, request_id)
        except ClusterError as exc:
            return 400, _error("InvalidParameterValue", str(exc), request_id)
        return 200, (
            f'<{action}Response xmlns="{_NS}"><{action}Result>{result}</{action}Result>'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
        )

    def _dispatch(self, action: str, params: dict[str, str]) -> str:
        if action == "DescribeDBClusterEndpoints":
            filters = _filters(params)
            types = filters.get("db-cluster-endpoint-type")
            name = params.get("DBClusterEndpointIdentifier")
            found = [
                e
                for e in self._backend(
                    "describe", {"name": name, "cluster": params.get("DBClusterIdentifier")}
                )
                if types is None or "custom" in [t.lower() for t in types]
            ]
            inner = "".join(_xml(e, "DBClusterEndpointList") for e in found)
            return f"<DBClusterEndpoints>{inner}</DBClusterEndpoints>"
        if action in ("CreateDBClusterEndpoint", "ModifyDBClusterEndpoint", "DeleteDBClusterEndpoint"):
            name = params.get("DBClusterEndpointIdentifier")
            if not name:
                raise RdsApiError(400, "MissingParameter", "DBClusterEndpointIdentifier is required")
            args: dict[str, Any] = {
                "name": name,
                "type": params.get("EndpointType"),
                "static": _members(params, "StaticMembers"),
                "excluded": _members(params, "ExcludedMembers"),
                "cluster": params.get("DBClusterIdentifier"),
            }
            kind = action.removesuffix("DBClusterEndpoint").lower()
            endpoint = self._backend(kind, args)
            if endpoint is None:
                raise RdsApiError(
                    404, "DBClusterEndpointNotFoundFault", f"DBClusterEndpoint {name} not found"
                )
            return "".join(_xml(v, k) for k, v in endpoint.items())
        raise RdsApiError(
            400,
            "InvalidAction",
            f"the local RDS API stand-in serves only the custom endpoint actions, not {action!r}: use MotoServer",
        )


def _error(code: str, message: str, request_id: str) -> str:
    return (
        f'<ErrorResponse xmlns="{_NS}"><Error><Type>Sender</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )

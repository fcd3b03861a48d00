"""One background monitor per custom endpoint and process: polls RDS ``describe_db_cluster_endpoints`` every
``custom_endpoint_info_refresh_rate_ms`` with a client made on a connecting thread, keeps the last answer, and
stops when no wrapper connection has used it for ``custom_endpoint_idle_monitor_expiration_ms`` (or at
``release_resources()``)."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any

from aws_wrapper.core.errors import AwsWrapperError
from aws_wrapper.core.monitors import MonitorService

from ._info import CustomEndpointInfo

__all__ = ["MONITOR_KIND", "CustomEndpointMonitor"]

logger = logging.getLogger("aws_wrapper.custom_endpoint")

MONITOR_KIND = "aws_wrapper.custom_endpoint"

#: How long a failed request waits before the next one at most (the refresh rate when shorter).
_ERROR_BACKOFF = 1.0


class CustomEndpointMonitor:
    """Thread-safe; ``info`` is read without a lock (one attribute read)."""

    def __init__(
        self,
        host: str,
        identifier: str,
        region: str,
        client: Any,
        *,
        refresh_rate: float,
        idle_expiration: float,
        registry: MonitorService | None = None,
        key: object = None,
    ) -> None:
        self.host = host
        self.identifier = identifier
        self.region = region
        self.refresh_rate = refresh_rate
        self.idle_expiration = idle_expiration
        self.info: CustomEndpointInfo | None = None
        self.error: Exception | None = None
        self.requests = 0  # calls of the RDS API made so far
        self._client = client
        self._registry = registry
        self._key = key
        self._users: weakref.WeakSet[object] = weakref.WeakSet()
        self._last_used = time.monotonic()
        self._resets = 0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"aws-wrapper-custom-endpoint-{identifier}", daemon=True
        )

    def __repr__(self) -> str:
        return f"CustomEndpointMonitor({self.identifier!r}, {self.region!r}, info={self.info!r})"

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def start(self) -> CustomEndpointMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._changed:
            self._changed.notify_all()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def reset(self) -> None:
        """Read the members again at once (the known ones stay in force until the answer: a reset must not
        open the filter)."""
        with self._changed:
            self._resets += 1
            self._changed.notify_all()

    # -- users ----------------------------------------------------------------------------------------------------
    def use(self, user: object) -> None:
        self._users.add(user)
        self._last_used = time.monotonic()

    def unuse(self, user: object) -> None:
        self._users.discard(user)
        self._last_used = time.monotonic()

    def _idle(self) -> bool:
        return not self._users and time.monotonic() - self._last_used >= self.idle_expiration

    # -- waiting ----------------------------------------------------------------------------------------------------
    def wait_for_info(self, timeout: float) -> CustomEndpointInfo:
        """The members, waiting up to ``timeout`` seconds for the first answer of the RDS API."""
        info = self.info
        if info is not None:
            return info
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.info is None and not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            info = self.info
        if info is not None:
            return info
        why = f": the last request failed: {self.error}" if self.error is not None else ""
        if self._stop.is_set() and self.error is None:
            why = ": the monitor was stopped (release_resources())"
        raise AwsWrapperError(
            f"the members of custom endpoint {self.identifier!r} (region {self.region!r}) were not known within "
            f"{timeout * 1000:.0f} ms (wait_for_custom_endpoint_info_timeout_ms){why}; check that the endpoint "
            "exists in that region and that the process may call rds:DescribeDBClusterEndpoints, or raise "
            "wait_for_custom_endpoint_info_timeout_ms"
        )

    # -- the thread -------------------------------------------------------------------------------------------------
    def refresh(self) -> CustomEndpointInfo | None:
        """One request to the RDS API (the monitor's thread calls it; tests may too)."""
        self.requests += 1
        try:
            response = self._client.describe_db_cluster_endpoints(
                DBClusterEndpointIdentifier=self.identifier,
                Filters=[{"Name": "db-cluster-endpoint-type", "Values": ["custom"]}],
            )
            info = CustomEndpointInfo.from_response(response, self.identifier)
        except Exception as exc:
            self.error = exc
            logger.warning(
                "reading custom endpoint %r (region %s) failed: %s", self.identifier, self.region, _short(exc)
            )
            with self._changed:
                self._changed.notify_all()
            return None
        self.error = None
        with self._changed:
            changed = info != self.info
            self.info = info
            self._changed.notify_all()
        if changed and logger.isEnabledFor(logging.INFO):
            logger.info(
                "custom endpoint %s: %s members %s",
                self.identifier,
                info.member_list_type.value,
                ", ".join(sorted(info.members)) or "none",
            )
        return info

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                self.refresh()
                if self._idle():
                    if logger.isEnabledFor(logging.DEBUG):
                        logger.debug("custom endpoint monitor %s idle: stopping", self.identifier)
                    break
                pause = self.refresh_rate if self.error is None else min(self.refresh_rate, _ERROR_BACKOFF)
                end = started + pause
                resets = self._resets
                with self._changed:
                    while not self._stop.is_set() and self._resets == resets:
                        left = end - time.monotonic()
                        if left <= 0:
                            break
                        self._changed.wait(left)
        finally:
            self._stop.set()
            if self._registry is not None:
                self._registry.discard(MONITOR_KIND, self._key, self)


def _short(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        return f"{error.get('Code', type(exc).__name__)}: {error.get('Message', '')}"
    return f"{type(exc).__name__}: {exc}"

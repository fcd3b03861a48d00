"""Which region a token is signed for: ``iam_region``, else the region in the RDS host name, else -- for an Aurora
global database writer endpoint (``<name>.global-<id>.global.rds.amazonaws.com``) -- the region of its writer
cluster, looked up with RDS ``DescribeGlobalClusters`` and cached."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.dialects import RdsUrlType, parse_endpoint

__all__ = ["GlobalRegions", "GLOBAL_REGIONS", "resolve_region"]

#: ``lookup(cluster_name) -> region``: asks RDS for the writer region of a global database.
GlobalLookup = Callable[[str], str]


class GlobalRegions:
    """Writer regions of global databases by (global cluster name, aws_profile), kept ``ttl`` seconds and
    forgotten when a token signed with one is rejected (a global failover moves the writer to another region).
    Lookups for one key run once at a time."""

    def __init__(self, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._lookup_lock = threading.Lock()
        self._regions: dict[tuple[str, str | None], tuple[float, str]] = {}
        self.lookups = 0

    def get(self, cluster: str, profile: str | None, lookup: GlobalLookup) -> str:
        key = (cluster.lower(), profile)
        found = self._cached(key)
        if found is not None:
            return found
        with self._lookup_lock:  # rare (once per global database and ttl): one lookup at a time is enough
            found = self._cached(key)
            if found is not None:
                return found
            region = lookup(cluster)
            with self._lock:
                self.lookups += 1
                self._regions[key] = (self._clock() + self.ttl, region)
            return region

    def _cached(self, key: tuple[str, str | None]) -> str | None:
        with self._lock:
            entry = self._regions.get(key)
            if entry is not None and entry[0] > self._clock():
                return entry[1]
        return None

    def forget(self, cluster: str, profile: str | None) -> None:
        with self._lock:
            self._regions.pop((cluster.lower(), profile), None)

    def clear(self) -> None:
        with self._lock:
            self._regions.clear()
            self.lookups = 0


#: The process-wide cache of global database writer regions; cleared by ``release_resources()``.
GLOBAL_REGIONS = GlobalRegions()


def global_cluster_name(host: str) -> str | None:
    """The global database name of a global writer endpoint, else None."""
    endpoint = parse_endpoint(host)
    if endpoint.type is RdsUrlType.RDS_GLOBAL_WRITER_CLUSTER:
        return endpoint.name
    return None


def resolve_region(
    host: str,
    configured: str | None,
    profile: str | None,
    lookup: GlobalLookup,
    regions: GlobalRegions = GLOBAL_REGIONS,
) -> str:
    """The region to sign a token for ``host`` with (see the module's documentation). Raises
    ``ConfigurationError`` naming ``iam_region`` when there is none to be had."""
    if configured:
        return configured
    endpoint = parse_endpoint(host)
    if endpoint.type is RdsUrlType.RDS_GLOBAL_WRITER_CLUSTER:
        return regions.get(endpoint.name, profile, lookup)
    if endpoint.type.has_region and endpoint.region:
        return endpoint.region
    what = "an IP address" if endpoint.type is RdsUrlType.IP_ADDRESS else "not an RDS endpoint name"
    raise ConfigurationError(
        f"cannot tell the AWS region to sign the IAM token for host {host!r} with: it is {what}; set iam_region "
        "(and iam_host to the RDS endpoint name if the token must name another host)"
    )

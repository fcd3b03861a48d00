"""Loopback address blocks: each cluster owns one 127.A.B.0/24 so clusters never collide with each other nor
with the machine's own servers on 127.0.0.1 (Linux routes all of 127.0.0.0/8 to ``lo``; no setup needed).

Inside a block (N = instance index, 1..99)::

    127.A.B.1        claim socket: a listener held for the cluster's lifetime marks the block as taken
    127.A.B.9        reader endpoint proxy
    127.A.B.10       writer (cluster) endpoint proxy
    127.A.B.(10+N)   instance N's proxy (what clients and the topology use)
    127.A.B.(110+N)  instance N's server (what replication uses; never through a proxy)

Every address listens on the engine's default port unless that port is taken on the whole machine (a server
listening on 0.0.0.0 or ``*``), in which case the first free alternative port is used.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import random
import socket

from ._errors import ClusterError

log = logging.getLogger("aws_wrapper.testing")

CLAIM_PORT = 65432  # outside Linux's ephemeral range (32768-60999), so no client socket ever holds it
MAX_INSTANCES = 99
READER_HOST = 9
WRITER_HOST = 10
PROXY_BASE = 10
SERVER_BASE = 110


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class AddressBlock:
    """A claimed 127.A.B.0/24 block and the port its servers and proxies use."""

    def __init__(self, prefix: str, port: int, claim: socket.socket | None) -> None:
        self.prefix = prefix  # "127.A.B"
        self.port = port
        self._claim = claim

    def host(self, last: int) -> str:
        return f"{self.prefix}.{last}"

    @property
    def writer_host(self) -> str:
        return self.host(WRITER_HOST)

    @property
    def reader_host(self) -> str:
        return self.host(READER_HOST)

    def proxy_host(self, index: int) -> str:
        _check_index(index)
        return self.host(PROXY_BASE + index)

    def server_host(self, index: int) -> str:
        _check_index(index)
        return self.host(SERVER_BASE + index)

    def contains(self, host: str) -> bool:
        return host.startswith(self.prefix + ".")

    def release(self) -> None:
        """Give the block back (idempotent)."""
        claim, self._claim = self._claim, None
        if claim is not None:
            claim.close()

    @property
    def claimed(self) -> bool:
        return self._claim is not None


def _check_index(index: int) -> None:
    if not 1 <= index <= MAX_INSTANCES:
        raise ClusterError(f"instance index {index!r} is outside 1..{MAX_INSTANCES}")


def claim_block(default_port: int, prefix: str | None = None, attempts: int = 200) -> AddressBlock:
    """Claim a free 127.A.B.0/24 block (``prefix`` "127.A.B" to ask for one) and choose its port."""
    rng = random.Random(os.getpid() ^ int.from_bytes(os.urandom(4), "little"))
    for _ in range(attempts if prefix is None else 1):
        candidate = prefix or f"127.{rng.randint(64, 254)}.{rng.randint(0, 255)}"
        ipaddress.IPv4Address(candidate + ".1")  # validates a user-given prefix
        claim = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            claim.bind((candidate + ".1", CLAIM_PORT))
            claim.listen(1)
        except OSError as exc:
            claim.close()
            if exc.errno != errno.EADDRINUSE:
                raise ClusterError(f"cannot claim loopback block {candidate!r}.0/24: {exc}") from exc
            continue
        try:
            port = _choose_port(candidate, default_port)
        except BaseException:
            claim.close()
            raise
        log.debug("claimed loopback block %s.0/24, port %s", candidate, port)
        return AddressBlock(candidate, port, claim)
    if prefix is not None:
        raise ClusterError(f"loopback block {prefix!r}.0/24 is taken (no free loopback block)")
    raise ClusterError(f"no free loopback block found after {attempts} tries")


def _choose_port(prefix: str, default_port: int) -> int:
    """The engine's default port if it is free in the block, else the first free of a few alternatives."""
    probes = (prefix + f".{WRITER_HOST}", prefix + f".{PROXY_BASE + 1}", prefix + f".{SERVER_BASE + 1}")
    for port in (
        default_port,
        default_port + 10000,
        default_port + 20000,
        default_port + 1,
        default_port + 2,
    ):
        if port < 65536 and all(_bindable(h, port) for h in probes):
            if port != default_port:
                log.warning(
                    "port %s is taken machine-wide (a server on 0.0.0.0?); the cluster uses %s",
                    default_port,
                    port,
                )
            return port
    raise ClusterError(f"no free port for the cluster in {prefix!r}.0/24 (default {default_port!r})")


def listening(host: str, port: int) -> bool:
    """True if something accepts TCP connections on ``host:port`` (used by teardown checks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        with contextlib.suppress(OSError):
            return s.connect_ex((host, port)) == 0
    return False

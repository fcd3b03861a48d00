"""What a running cluster occupies on the machine (processes, listening addresses, directories, System V
shared memory), to prove that teardown left nothing behind."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from ._proc import children, gone


def listening_addresses(prefix: str) -> list[tuple[str, int]]:
    """TCP sockets in LISTEN state whose address starts with ``prefix`` (from /proc/net/tcp)."""
    found: list[tuple[str, int]] = []
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) < 4 or fields[3] != "0A":  # 0A = LISTEN
            continue
        hex_addr, hex_port = fields[1].split(":")
        addr = socket.inet_ntoa(int(hex_addr, 16).to_bytes(4, "little"))
        if addr.startswith(prefix + "."):
            found.append((addr, int(hex_port, 16)))
    return found


def sysv_segments(creators: set[int] | None = None) -> list[int]:
    """Ids of the System V shared memory segments (created by one of ``creators``, if given)."""
    ids: list[int] = []
    try:
        lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    except OSError:
        return ids
    for line in lines:
        fields = line.split()
        if len(fields) > 4 and (creators is None or int(fields[4]) in creators):
            ids.append(int(fields[1]))
    return ids


@dataclass(frozen=True)
class Footprint:
    """Processes, listening addresses and directories of a cluster at one moment."""

    pids: tuple[int, ...]
    prefix: str
    directories: tuple[Path, ...]
    shm_ids: tuple[int, ...] = ()

    def leftovers(self) -> list[str]:
        """Everything of the footprint that still exists (empty after a complete teardown)."""
        left = [f"process {pid} still running" for pid in self.pids if not gone(pid)]
        left += [f"{host}:{port} still listening" for host, port in listening_addresses(self.prefix)]
        left += [f"directory {str(d)!r} still exists" for d in self.directories if d.exists()]
        if self.shm_ids:
            existing = set(sysv_segments())
            left += [f"shared memory segment {i} still exists" for i in self.shm_ids if i in existing]
        return left


def footprint(server_pids: list[int], prefix: str, directories: list[Path]) -> Footprint:
    pids = list(server_pids)
    for pid in server_pids:
        pids.extend(children(pid))
    shm_ids = sysv_segments(set(pids))
    return Footprint(tuple(pids), prefix, tuple(directories), tuple(shm_ids))

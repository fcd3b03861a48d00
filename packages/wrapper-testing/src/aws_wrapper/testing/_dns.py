"""RDS-shaped DNS names that resolve only inside a private mount namespace.

A :class:`HostsFile` is a copy of the machine's ``/etc/hosts`` plus extra ``address name`` lines. A command
run through :func:`namespace_command` gets its own mount namespace (``unshare --mount``, private propagation)
in which that file is bind-mounted over ``/etc/hosts``; glibc's resolver, and so Python, libpq and
mysql-connector, then resolve the extra names. Nothing outside the namespace changes: the real ``/etc/hosts``
is only ever read. Needs root and util-linux ``unshare``.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

__all__ = [
    "DnsNamespace",
    "HostsFile",
    "SYSTEM_HOSTS",
    "namespace_available",
    "namespace_command",
    "run_in_namespace",
]

_log = logging.getLogger("aws_wrapper.testing")

SYSTEM_HOSTS = Path("/etc/hosts")
"""The hosts file of the machine; read, never written."""

_BEGIN = "# --- aws-wrapper-testing: names below exist only in this private mount namespace ---"
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")
# The bind mount and exec happen in a tiny shell inside the new namespace: $0 is the hosts file, "$@" the argv.
_SCRIPT = 'mount --bind "$0" /etc/hosts && exec "$@"'


class HostsFile:
    """A hosts file made of the machine's ``/etc/hosts`` and extra ``name -> address`` entries.

    ``add()`` maps a name to an address (replacing an earlier address of the same name); ``write()`` writes the
    file. The file is rewritten in place, so a process already running in a namespace where it is mounted sees
    the new entries (glibc reads the hosts file on every lookup): this is how a test changes DNS under a
    running client, as a blue/green switchover or a failover of a cluster endpoint does.
    """

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._entries: dict[str, str] = {}

    @property
    def path(self) -> Path:
        return self._path

    @property
    def entries(self) -> dict[str, str]:
        """A copy of the extra entries, name -> address."""
        return dict(self._entries)

    def add(self, name: str, address: str) -> None:
        """Make ``name`` resolve to ``address`` (an IPv4 or IPv6 address, not a name)."""
        if not _HOSTNAME.fullmatch(name):
            raise ValueError(f"not a valid host name: {name!r}")
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ValueError(f"not an ip address: {address!r} (for host name {name!r})") from None
        self._entries[name.lower().rstrip(".")] = address

    def remove(self, name: str) -> None:
        """Forget ``name`` (it no longer resolves after the next ``write()``); unknown names are ignored."""
        self._entries.pop(name.lower().rstrip("."), None)

    def render(self) -> str:
        """The content ``write()`` writes."""
        try:
            base = SYSTEM_HOSTS.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            base = "127.0.0.1 localhost\n"
        if base and not base.endswith("\n"):
            base += "\n"
        lines = [f"{address} {name}" for name, address in self._entries.items()]
        return base + _BEGIN + "\n" + "".join(line + "\n" for line in lines)

    def write(self) -> Path:
        """Write the file (in place if it exists, keeping its inode and so any bind mount of it) and return it."""
        data = self.render().encode("utf-8")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            # Overwrite first, then cut: a reader never sees an empty file; the machine's part never changes.
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)
        return self._path


@functools.lru_cache(maxsize=1)
def namespace_available() -> str | None:
    """``None`` if private mount namespaces with a bind-mounted hosts file work here, else the reason."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "private mount namespaces need root (unshare --mount and mount --bind)"
    for tool in ("unshare", "mount", "sh"):
        if shutil.which(tool) is None:
            return f"{tool!r} is not installed (util-linux)"
    with tempfile.TemporaryDirectory(prefix="aws-wrapper-dns-") as tmp:
        probe = HostsFile(Path(tmp) / "hosts")
        probe.add("probe.aws-wrapper-testing.invalid", "127.0.0.1")
        probe.write()
        argv = ["grep", "-q", "probe.aws-wrapper-testing.invalid", str(SYSTEM_HOSTS)]
        try:
            done = subprocess.run(
                namespace_command(probe.path, argv), capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"cannot run unshare: {exc}"
    if done.returncode != 0:
        return (
            f"unshare --mount with a bind-mounted hosts file failed: {done.stderr.strip() or done.returncode}"
        )
    return None


def namespace_command(hosts_file: Path, argv: Sequence[str]) -> list[str]:
    """The argv that runs ``argv`` in a private mount namespace where ``hosts_file`` is ``/etc/hosts``.

    The command ``exec``s, so the returned process is ``argv`` itself (signals and exit status are its own).
    """
    if not argv:
        raise ValueError("namespace_command needs a command to run, got an empty argv")
    hosts = Path(hosts_file).resolve()
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", _SCRIPT, str(hosts), *argv]


def run_in_namespace(
    hosts_file: Path, argv: Sequence[str], **popen_kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run`` of ``argv`` inside the namespace (text mode unless told otherwise; no check)."""
    kwargs: dict[str, Any] = {"text": True, "check": False, **popen_kwargs}
    return cast(
        "subprocess.CompletedProcess[str]", subprocess.run(namespace_command(hosts_file, argv), **kwargs)
    )


class DnsNamespace:
    """A hosts file and the means to run commands that see it (what the ``dns_namespace`` fixture yields)."""

    def __init__(self, hosts_file: Path) -> None:
        self.hosts = HostsFile(hosts_file)
        self.hosts.write()

    @property
    def hosts_file(self) -> Path:
        return self.hosts.path

    def add(self, name: str, address: str) -> None:
        """Make ``name`` resolve to ``address`` in the namespace, at once (also for running children)."""
        self.hosts.add(name, address)
        self.hosts.write()

    def remove(self, name: str) -> None:
        self.hosts.remove(name)
        self.hosts.write()

    def command(self, argv: Sequence[str]) -> list[str]:
        """The argv for ``subprocess.Popen`` that runs ``argv`` inside the namespace."""
        return namespace_command(self.hosts.path, argv)

    def run(self, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run_in_namespace(self.hosts.path, argv, **popen_kwargs)

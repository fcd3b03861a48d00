"""RDS-shaped names in a private mount namespace (needs root and unshare; the dns_namespace fixture skips)."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from aws_wrapper.testing._dns import (
    SYSTEM_HOSTS,
    DnsNamespace,
    HostsFile,
    namespace_available,
    namespace_command,
    run_in_namespace,
)
from aws_wrapper.testing._fixtures_net import *  # noqa: F403
from aws_wrapper.testing._fixtures_net import FaultProxyFactory

CLUSTER = "mydb.cluster-abc123def456.us-east-1.rds.amazonaws.com"
READER = "mydb.cluster-ro-abc123def456.us-east-1.rds.amazonaws.com"
INSTANCE = "instance-1.abc123def456.us-east-1.rds.amazonaws.com"

RESOLVE = (
    "import socket, sys; print(socket.getaddrinfo(sys.argv[1], 5432, proto=socket.IPPROTO_TCP)[0][4][0])"
)


def _system_hosts_digest() -> str:
    return hashlib.sha256(SYSTEM_HOSTS.read_bytes()).hexdigest()


def _files_lookup(name: str, argv_prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """Look ``name`` up in the hosts file only (``getent -s files``): never sends a DNS query."""
    argv = ["getent", "-s", "files", "hosts", name]
    return subprocess.run(
        [*(argv_prefix or []), *argv], capture_output=True, text=True, timeout=10, check=False
    )


# -- HostsFile (no namespace needed) ------------------------------------------------------------------------------
def test_hosts_file_is_the_system_file_plus_entries(tmp_path: Path) -> None:
    hosts = HostsFile(tmp_path / "sub" / "hosts")
    hosts.add(CLUSTER, "127.0.99.10")
    hosts.add(INSTANCE, "::1")
    path = hosts.write()
    assert path == tmp_path / "sub" / "hosts"
    text = path.read_text()
    assert text.startswith(SYSTEM_HOSTS.read_text())
    assert f"127.0.99.10 {CLUSTER}\n" in text
    assert f"::1 {INSTANCE}\n" in text
    assert hosts.entries == {CLUSTER: "127.0.99.10", INSTANCE: "::1"}


def test_hosts_file_replaces_and_removes_in_place(tmp_path: Path) -> None:
    hosts = HostsFile(tmp_path / "hosts")
    hosts.add(CLUSTER, "127.0.99.10")
    inode = hosts.write().stat().st_ino
    hosts.add(CLUSTER.upper(), "127.0.99.11")  # same name: the address is replaced
    hosts.add(READER, "127.0.99.12")
    hosts.write()
    text = hosts.path.read_text()
    assert f"127.0.99.11 {CLUSTER}\n" in text
    assert "127.0.99.10" not in text
    hosts.remove(READER)
    hosts.remove("never-added.example")
    hosts.write()
    assert READER not in hosts.path.read_text()
    assert hosts.path.stat().st_ino == inode  # rewritten in place: a bind mount of it sees the change


@pytest.mark.parametrize(
    ("name", "address"), [("bad name", "127.0.0.1"), ("a..b", "127.0.0.1"), ("-x", "::1")]
)
def test_hosts_file_rejects_bad_names(tmp_path: Path, name: str, address: str) -> None:
    with pytest.raises(ValueError, match="not a valid host name"):
        HostsFile(tmp_path / "hosts").add(name, address)


def test_hosts_file_rejects_names_as_addresses(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'localhost'.*" + CLUSTER.replace(".", r"\.")):
        HostsFile(tmp_path / "hosts").add(CLUSTER, "localhost")


def test_namespace_command_shape(tmp_path: Path) -> None:
    argv = namespace_command(tmp_path / "hosts", ["echo", "a b", "$HOME"])
    assert argv[:5] == ["unshare", "--mount", "--propagation", "private", "--"]
    assert argv[-3:] == ["echo", "a b", "$HOME"]  # passed as arguments, never through shell parsing
    assert str((tmp_path / "hosts").resolve()) in argv
    with pytest.raises(ValueError, match="empty argv"):
        namespace_command(tmp_path / "hosts", [])


def test_namespace_available_reports_a_reason_or_none() -> None:
    reason = namespace_available()
    if os.geteuid() != 0:
        assert reason is not None
        assert "root" in reason
    else:
        assert reason is None or isinstance(reason, str)


# -- inside the namespace -----------------------------------------------------------------------------------------
def test_name_resolves_only_inside_the_namespace(dns_namespace: DnsNamespace) -> None:
    before = _system_hosts_digest()
    dns_namespace.add(CLUSTER, "127.0.99.10")
    dns_namespace.add(READER, "127.0.99.11")
    done = dns_namespace.run([sys.executable, "-c", RESOLVE, CLUSTER], capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "127.0.99.10"
    inside = _files_lookup(READER, namespace_command(dns_namespace.hosts_file, ["env"]))
    assert inside.returncode == 0
    assert inside.stdout.split()[0] == "127.0.99.11"
    outside = _files_lookup(CLUSTER)
    assert outside.returncode == 2  # "key not found" in the machine's own hosts file
    assert CLUSTER not in SYSTEM_HOSTS.read_text()
    assert _system_hosts_digest() == before  # the real /etc/hosts was never touched


def test_psycopg_connects_through_names(dns_namespace: DnsNamespace, fault_proxy: FaultProxyFactory) -> None:
    pytest.importorskip("psycopg")
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        pytest.skip("no postgresql on 127.0.0.1:5432")
    proxy = fault_proxy("127.0.0.1", 5432, listen_host="127.0.99.20")
    dns_namespace.add(CLUSTER, "127.0.0.1")  # straight to the machine's server
    dns_namespace.add(INSTANCE, proxy.listen_host)  # through a fault proxy
    script = (
        "import sys, psycopg\n"
        "for host, port in ((sys.argv[1], 5432), (sys.argv[2], int(sys.argv[3]))):\n"
        "    with psycopg.connect(host=host, port=port, user='postgres', dbname='postgres') as c:\n"
        "        print(c.execute('select 40 + 2').fetchone()[0], c.info.host)\n"
    )
    argv = [sys.executable, "-c", script, CLUSTER, INSTANCE, str(proxy.listen_port)]
    done = dns_namespace.run(argv, capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == [f"42 {CLUSTER}", f"42 {INSTANCE}"]


def test_running_child_sees_later_changes(dns_namespace: DnsNamespace) -> None:
    dns_namespace.add(CLUSTER, "127.0.99.10")
    script = (
        "import socket, sys\n"
        "for line in sys.stdin:\n"
        "    print(socket.getaddrinfo(line.strip(), 1, proto=socket.IPPROTO_TCP)[0][4][0], flush=True)\n"
    )
    child = subprocess.Popen(
        dns_namespace.command([sys.executable, "-c", script]),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdin is not None
        assert child.stdout is not None
        child.stdin.write(CLUSTER + "\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "127.0.99.10"
        dns_namespace.add(CLUSTER, "127.0.99.13")  # as a switchover or failover moves the endpoint
        child.stdin.write(CLUSTER + "\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "127.0.99.13"
    finally:
        child.kill()
        child.communicate(timeout=10)


def test_run_in_namespace_passes_exit_status_and_kwargs(dns_namespace: DnsNamespace) -> None:
    done = run_in_namespace(
        dns_namespace.hosts_file,
        ["sh", "-c", 'grep -c "$0" /etc/hosts; exit 3', CLUSTER],
        capture_output=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    assert done.returncode == 3
    assert done.stdout.strip() == "0"
    dns_namespace.add(CLUSTER, "127.0.99.10")
    done = dns_namespace.run(["grep", "-c", CLUSTER, "/etc/hosts"], capture_output=True)
    assert done.stdout.strip() == "1"

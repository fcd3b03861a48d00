"""The ``aws-wrapper-cluster`` CLI used from a shell, as a user would: up, status, failover, run, down."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aws_wrapper.testing import namespace_available
from aws_wrapper.testing._footprint import listening_addresses
from aws_wrapper.testing._proc import gone

pytestmark = [pytest.mark.integration, pytest.mark.pg_cluster]


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "aws-wrapper-cluster"
    return [str(script)] if script.exists() else [sys.executable, "-m", "aws_wrapper.testing.cli"]


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and not gone(int(entry.name)):
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class Cli:
    def __init__(self, state: Path) -> None:
        self.state = state

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*_cli(), args[0], "--state-dir", str(self.state), *args[1:]],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and done.returncode != 0:
            pytest.fail(f"aws-wrapper-cluster {' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return done

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self("status", "--json").stdout)
        return data


def test_cli_up_status_failover_run_down(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "state")
    assert cli("status", check=False).returncode == 1  # nothing running yet
    pid = None
    try:
        up = cli("up", "--engine", "pg", "--instances", "3")
        assert "writer" in up.stdout
        assert "supervisor pid" in up.stdout
        pid = int(up.stdout.rsplit("supervisor pid", 1)[1].strip(" )\n"))
        assert cli("up", check=False).returncode == 1  # one cluster per state directory
        before = cli.status()
        assert before["running"]
        assert len(before["instances"]) == 3
        work_dir, prefix = before["work_dir"], before["writer_endpoint"]["host"].rsplit(".", 1)[0]
        assert _processes_mentioning(work_dir)

        failover = cli("failover")
        after = cli.status()
        assert after["writer"] != before["writer"]
        assert f"failover: {after['writer']}" in failover.stdout

        script = (
            "import os, psycopg\n"
            "host = os.environ['AWS_WRAPPER_CLUSTER_WRITER_DNS'] if os.environ.get('DNS') else os.environ['PGHOST']\n"
            "c = psycopg.connect(host=host, connect_timeout=5)\n"
            "print(c.execute('select pg_catalog.aurora_db_instance_identifier(), pg_is_in_recovery()').fetchone())\n"
        )
        env = {**os.environ, "DNS": "1" if namespace_available() is None else ""}
        run = subprocess.run(
            [*_cli(), "run", "--state-dir", str(cli.state), "--", sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == str((after["writer"], False))
        assert cli("run", "--", "sh", "-c", "exit 7", check=False).returncode == 7

        cli("crash", "2")
        assert [i["alive"] for i in cli.status()["instances"]].count(False) == 1
        cli("restart", "2")
        cli("blackhole", "1")
        assert cli.status()["instances"][0]["proxy_mode"] == "blackhole"
        cli("heal")
        assert cli("add").stdout.startswith("add: ")
        assert len(cli.status()["instances"]) == 4
        cli("remove", "4")

        down = cli("down")
        assert "cluster stopped" in down.stdout
        assert gone(pid)
        assert not _processes_mentioning(work_dir)
        assert listening_addresses(prefix) == []
        assert not Path(work_dir).exists()
        assert not cli.state.exists()
        assert cli("down").returncode == 0  # idempotent
    finally:
        if cli.state.exists():
            cli("down", check=False)
        if pid is not None and not gone(pid):
            os.kill(pid, signal.SIGKILL)


def test_cli_reports_a_failed_start(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "state")
    done = cli("up", "--engine", "nosuch", check=False)
    assert done.returncode == 1
    assert "unknown engine 'nosuch'" in done.stderr
    assert not (cli.state / "cluster.json").exists()

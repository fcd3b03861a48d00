"""The pytest plugin: markers, clean skips, and fixture teardown when a test fails (run in a child pytest)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aws_wrapper.testing._footprint import Footprint


def _pytest(tmp_path: Path, source: str, *args: str, env: dict[str, str] | None = None) -> str:
    (tmp_path / "test_sample.py").write_text(textwrap.dedent(source))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *args, str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return done.stdout + done.stderr


def test_markers_are_registered(tmp_path: Path) -> None:
    out = _pytest(tmp_path, "def test_x() -> None:\n    pass\n", "--markers")
    for marker in ("@pytest.mark.pg_cluster", "@pytest.mark.mysql_cluster", "@pytest.mark.needs_root"):
        assert marker in out


def test_missing_servers_skip_with_the_reason(tmp_path: Path) -> None:
    source = """
        import pytest

        @pytest.mark.pg_cluster
        def test_marked() -> None:
            raise AssertionError("must not run")

        def test_fixture(pg_cluster) -> None:
            raise AssertionError("must not run")

        def test_factory(local_cluster) -> None:
            local_cluster("pg")
            raise AssertionError("must not run")
    """
    out = _pytest(tmp_path, source, env={"AWS_WRAPPER_PG_BIN": str(tmp_path / "none")})
    assert "3 skipped" in out
    assert "postgresql server binaries not found" in out


@pytest.mark.skipif(os.geteuid() != 0, reason="checks the root case")
def test_needs_root_runs_as_root(tmp_path: Path) -> None:
    out = _pytest(tmp_path, "import pytest\n\n@pytest.mark.needs_root\ndef test_x() -> None:\n    pass\n")
    assert "1 passed" in out


def test_fixtures_tear_down_after_a_failing_test(tmp_path: Path) -> None:
    marker = tmp_path / "footprint.txt"
    source = f"""
        import json
        import pytest
        pytestmark = pytest.mark.pg_cluster(instances=2)

        def save(footprint) -> None:
            dirs = [str(d) for d in footprint.directories]
            data = {{"pids": footprint.pids, "prefix": footprint.prefix, "dirs": dirs}}
            with open({str(marker)!r}, "a") as f:
                f.write(json.dumps(data) + "\\n")

        def test_shared(pg_cluster) -> None:
            pg_cluster.blackhole()
            save(pg_cluster.footprint())
            raise AssertionError("deliberate failure")

        def test_shared_is_reset(pg_cluster) -> None:
            assert all(i.proxy_mode == "pass" for i in pg_cluster.status().instances)

        def test_factory(local_cluster) -> None:
            cluster = local_cluster("pg", instances=1, flavour="plain")
            save(cluster.footprint())
            raise AssertionError("deliberate failure")
    """
    out = _pytest(tmp_path, source)
    assert "2 failed, 1 passed" in out, out
    lines = marker.read_text().splitlines()
    assert len(lines) == 2
    for line in lines:
        data = json.loads(line)
        footprint = Footprint(tuple(data["pids"]), data["prefix"], tuple(Path(d) for d in data["dirs"]))
        assert footprint.pids
        assert footprint.leftovers() == []

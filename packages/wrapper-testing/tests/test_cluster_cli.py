"""The CLI's own logic (no cluster needed): arguments, missing and stale clusters."""

from __future__ import annotations

from pathlib import Path

import pytest

from aws_wrapper.testing._state import read_state, write_state
from aws_wrapper.testing.cli import main


def test_down_without_a_cluster_is_fine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["down", "--state-dir", str(tmp_path / "s")]) == 0
    assert "no cluster in" in capsys.readouterr().out


def test_commands_without_a_cluster_fail_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["status"], ["failover"], ["run", "--", "true"], ["remove", "2"]):
        assert main([*argv[:1], "--state-dir", str(tmp_path), *argv[1:]]) == 1
        assert "no cluster in" in capsys.readouterr().err


def test_state_dir_before_or_after_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--state-dir", str(tmp_path / "a"), "status"]) == 1
    assert str(tmp_path / "a") in capsys.readouterr().err


def test_a_stale_cluster_is_reported_and_cleaned_by_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_state(tmp_path, {"pid": 2**22 + 999, "ready": True, "socket": str(tmp_path / "control.sock")})
    assert main(["status", "--state-dir", str(tmp_path)]) == 1
    assert "is gone" in capsys.readouterr().err
    assert main(["down", "--state-dir", str(tmp_path)]) == 0
    assert read_state(tmp_path) is None


def test_run_needs_a_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--state-dir", str(tmp_path)]) == 1
    assert "run needs a command" in capsys.readouterr().err


def test_unknown_flavour_is_an_argument_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["up", "--flavour", "cloud"])
    assert exc.value.code == 2
    assert "invalid choice: 'cloud'" in capsys.readouterr().err

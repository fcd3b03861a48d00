"""Install every workspace package (editable, with all its extras) plus the dev tools, in one pip command.

Skipped when nothing that affects the install changed since the last run (a stamp in the venv).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def package_dirs() -> list[Path]:
    return sorted(
        p.parent for p in (ROOT / "packages").glob("*/pyproject.toml") if not p.parent.name.startswith("_")
    )


def fixture_dirs() -> list[Path]:
    """Test-only distributions (e.g. a third-party plugin) that the suite needs installed, not imported."""
    return sorted(p.parent for p in (ROOT / "tests-integration" / "fixtures").glob("*/pyproject.toml"))


def requirement_for(pkg: Path) -> str:
    meta = tomllib.loads((pkg / "pyproject.toml").read_text())["project"]
    extras = sorted(meta.get("optional-dependencies", {}))
    suffix = f"[{','.join(extras)}]" if extras else ""
    return f"{pkg}{suffix}"


def main() -> int:
    venv = Path(sys.argv[1] if len(sys.argv) > 1 else ".venv")
    inputs = [ROOT / "tools/requirements-dev.txt", ROOT / "tools/bootstrap.py"]
    inputs += [p / "pyproject.toml" for p in package_dirs() + fixture_dirs()]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in inputs if p.exists())).hexdigest()
    stamp = venv / ".aws-wrapper-stamp"
    if stamp.exists() and stamp.read_text() == digest:
        return 0
    args = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    args += ["-r", str(ROOT / "tools/requirements-dev.txt")]
    for pkg in package_dirs() + fixture_dirs():
        args += ["-e", requirement_for(pkg)]
    print("bootstrap: installing the workspace into", venv, flush=True)
    # pip older than 24 does not match a dependency on a workspace member to the editable path given beside it.
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "pip>=24.2"], check=True
    )
    subprocess.run(args, check=True)
    stamp.write_text(digest)
    return 0


if __name__ == "__main__":
    sys.exit(main())

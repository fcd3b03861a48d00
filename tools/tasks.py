"""Developer tasks, run through ./dev (or hatch, see hatch.toml). Each returns a process exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def _packages() -> list[Path]:
    return sorted(
        p.parent for p in (ROOT / "packages").glob("*/pyproject.toml") if not p.parent.name.startswith("_")
    )


def _run(*args: str, env: dict[str, str] | None = None) -> int:
    print("+", " ".join(args), flush=True)
    return subprocess.run(args, cwd=ROOT, env=env).returncode


def lint(_: list[str]) -> int:
    return _run(PY, "-m", "ruff", "check", "packages", "tests-integration", "tools")


def types(_: list[str]) -> int:
    """mypy --strict over every package's sources and tests (one run per package: test module names repeat)."""
    srcs = [str(p / "src") for p in _packages() if (p / "src").is_dir()]
    env = dict(os.environ, MYPYPATH=os.pathsep.join(srcs))
    status = 0
    for pkg in _packages():
        targets = [str(t) for t in (pkg / "src", pkg / "tests") if t.is_dir() and any(t.rglob("*.py"))]
        if targets:
            status |= _run(PY, "-m", "mypy", *targets, env=env)
    if any((ROOT / "tests-integration").rglob("*.py")):
        status |= _run(PY, "-m", "mypy", "tests-integration", env=env)
    status |= _run(PY, "-m", "mypy", "tools", env=env)
    return status


def _pytest(args: list[str]) -> int:
    code = _run(PY, "-m", "pytest", *args)
    return 0 if code == 5 and "-k" in args else code


def unit(args: list[str]) -> int:
    return _pytest(["packages", *args])


def integration(args: list[str]) -> int:
    return _pytest(["tests-integration", *args])


def test(args: list[str]) -> int:
    """The whole suite: lint, types, then every unit and integration test."""
    for step in (lint, types):
        if step([]) != 0:
            print(f"FAILED: {step.__name__}", flush=True)
            return 1
    return _pytest([*args])


def bench(args: list[str]) -> int:
    return _run(PY, str(ROOT / "tools" / "bench.py"), *args)


def demo(args: list[str]) -> int:
    return _run(PY, "-m", "aws_wrapper.failover.demo", *args)


def shell(args: list[str]) -> int:
    return _run(*(args or [os.environ.get("SHELL", "bash")]))


TASKS: dict[str, Callable[[list[str]], int]] = {
    f.__name__: f for f in (test, lint, types, unit, integration, bench, demo, shell)
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in TASKS:
        print("usage: ./dev {" + "|".join(TASKS) + "} [args...]", file=sys.stderr)
        return 2
    return TASKS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Developer tasks, run through ./dev (or hatch, see hatch.toml). Each returns a process exit code."""

from __future__ import annotations

import os
import re
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
    for suite in sorted(p for p in (ROOT / "tests-integration").iterdir() if p.is_dir()):
        if any(suite.rglob("*.py")):  # one run each: every suite has its own conftest.py
            status |= _run(PY, "-m", "mypy", str(suite.relative_to(ROOT)), env=env)
    status |= _run(PY, "-m", "mypy", "tools", "benchmarks", env=env)
    return status


def _pytest(args: list[str]) -> tuple[int, dict[str, int]]:
    """One pytest run; returns its exit code and the counts of its closing line."""
    print("+ pytest", " ".join(args), flush=True)
    proc = subprocess.Popen(
        [PY, "-m", "pytest", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    counts: dict[str, int] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        if line.startswith("=") and (" passed" in line or " failed" in line or " error" in line or " skipped" in line):
            for number, word in re.findall(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)", line):
                key = "error" if word.startswith("error") else word
                counts[key] = counts.get(key, 0) + int(number)
    code = proc.wait()
    return (0 if code == 5 else code), counts


def _suites(selected: list[str]) -> list[str]:
    """Test roots, one pytest process each: every package's tests/ (their ``tests`` packages would collide in
    one process), then tests-integration/."""
    roots = [str(p.relative_to(ROOT) / "tests") for p in _packages() if (p / "tests").is_dir()]
    roots.append("tests-integration")
    if selected:
        roots = [r for r in roots if any(r.startswith(s.rstrip("/")) or s.startswith(r) for s in selected)]
    return roots


def _run_suites(roots: list[str], extra: list[str], paths: list[str]) -> int:
    status = 0
    total: dict[str, int] = {}
    for root in roots:
        targets = [p for p in paths if p.startswith(root)] or [root]
        code, counts = _pytest([*targets, *extra])
        status |= code
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
    passed, failed = total.get("passed", 0), total.get("failed", 0) + total.get("error", 0)
    print(f"total: {passed} passed, {failed} failed, {total.get('skipped', 0)} skipped", flush=True)
    return 1 if status else 0


def _split(args: list[str]) -> tuple[list[str], list[str]]:
    paths = [a for a in args if not a.startswith("-") and (ROOT / a.split("::")[0]).exists()]
    return paths, [a for a in args if a not in paths]


def unit(args: list[str]) -> int:
    paths, extra = _split(args)
    return _run_suites([r for r in _suites(paths) if r != "tests-integration"], extra, paths)


def integration(args: list[str]) -> int:
    paths, extra = _split(args)
    return _run_suites(["tests-integration"], extra, paths)


def generate(args: list[str]) -> int:
    """Regenerate the sync twins of the single-source async modules (``*_async.py`` -> ``*_sync.py``); with
    ``--check``, only report stale ones."""
    return _run(PY, str(ROOT / "tools" / "async_to_sync.py"), *args)


def generated(_: list[str]) -> int:
    """The staleness check of ``./dev test``: fails when a generated sync module differs from its async source."""
    return generate(["--check"])


def test(args: list[str]) -> int:
    """The whole suite: lint, the generated-code check, types, then every unit and integration test."""
    for step in (lint, generated, types):
        if step([]) != 0:
            print(f"FAILED: {step.__name__}", flush=True)
            return 1
    paths, extra = _split(args)
    return _run_suites(_suites(paths), extra, paths)


def bench(args: list[str]) -> int:
    return _run(PY, str(ROOT / "tools" / "bench.py"), *args)


def demo(args: list[str]) -> int:
    return _run(PY, "-m", "aws_wrapper.failover.demo", *args)


def shell(args: list[str]) -> int:
    return _run(*(args or [os.environ.get("SHELL", "bash")]))


TASKS: dict[str, Callable[[list[str]], int]] = {
    f.__name__: f for f in (test, lint, generate, types, unit, integration, bench, demo, shell)
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in TASKS:
        print("usage: ./dev {" + "|".join(TASKS) + "} [args...]", file=sys.stderr)
        return 2
    return TASKS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

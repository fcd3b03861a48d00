"""Cold start: what a Lambda function or a CLI pays on every start, in fresh interpreters.

Each figure is the median of ``--runs`` (default 9, at least 7) fresh interpreters, the variants interleaved in a
rotating order, timed inside the child from its first statement (interpreter start-up itself is not counted):

* ``import psycopg``, ``import aws_advanced_python_wrapper`` alone, and both (the compat package's own cost in an
  application that imports psycopg anyway: the difference to ``import psycopg`` alone);
* import + first connect + first ``SELECT 1`` (fetched) on the machine's PostgreSQL: raw psycopg, the wrapper with
  ``plugins="failover"``, with the default plugins (``plugins`` unset), and for reference with ``plugins=""`` and
  with the heavy fixture's plugin (``plugins="test_heavy"``).

Run it with the test distribution ``aws-wrapper-test-heavy-plugin`` installed (``./dev`` installs it): its plugin
module imports boto3 at import time, as an AWS authentication plugin does. The benchmark prints whether boto3
ended up in ``sys.modules`` after each variant; with ``failover`` and the defaults it must say "no".

The children run with bytecode caching on (``PYTHONPYCACHEPREFIX`` in a temporary directory, one warm-up run per
variant first), as an installed application does; ``--no-bytecode`` keeps this environment's
``PYTHONDONTWRITEBYTECODE`` instead, so workspace sources are compiled on every start. Here the failover plugin
connects to a plain server (no topology), so it does what it does on any first connect minus the topology query.

When valgrind is installed, the instructions of the main thread of one run per variant (callgrind) follow: exact
figures that do not move with the machine's load or page cache, unlike the times.

Options: ``--runs=N``, ``--pg=DSN`` (default: host=127.0.0.1 port=5432 dbname=postgres user=postgres),
``--no-bytecode``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

PG_DSN = "host=127.0.0.1 port=5432 dbname=postgres user=postgres"
HEAVY_DIST = "aws-wrapper-test-heavy-plugin"
HEAVY_CODE = "test_heavy"
MIN_RUNS = 7

_IMPORT = """
import sys, time
t0 = time.perf_counter()
import {module}
t1 = time.perf_counter()
import json
print(json.dumps({{"ms": (t1 - t0) * 1000, "boto3": "boto3" in sys.modules}}))
"""

_COLD = """
import sys, time
t0 = time.perf_counter()
import psycopg
{wrapper_import}
conn = {connect}
cur = conn.cursor()
cur.execute("SELECT 1")
assert cur.fetchone() == (1,)
t1 = time.perf_counter()
conn.close()
import json
print(json.dumps({{"ms": (t1 - t0) * 1000, "boto3": "boto3" in sys.modules}}))
"""

_WRAPPER_IMPORT = "from aws_advanced_python_wrapper import AwsWrapperConnection"


def _cold(dsn: str, plugins: str | None) -> str:
    if plugins is None:
        connect = f"AwsWrapperConnection.connect(psycopg.Connection.connect, {dsn!r})"
    else:
        connect = f"AwsWrapperConnection.connect(psycopg.Connection.connect, {dsn!r}, plugins={plugins!r})"
    return _COLD.format(wrapper_import=_WRAPPER_IMPORT, connect=connect)


def _variants(dsn: str) -> dict[str, str]:
    return {
        "import psycopg": _IMPORT.format(module="psycopg"),
        "import aws_advanced_python_wrapper": _IMPORT.format(module="aws_advanced_python_wrapper"),
        "import psycopg, aws_advanced_python_wrapper": _IMPORT.format(
            module="psycopg, aws_advanced_python_wrapper"
        ),
        "raw psycopg": _COLD.format(wrapper_import="", connect=f"psycopg.connect({dsn!r})"),
        "wrapper plugins='failover'": _cold(dsn, "failover"),
        "wrapper default plugins": _cold(dsn, None),
        "wrapper plugins=''": _cold(dsn, ""),
        f"wrapper plugins={HEAVY_CODE!r}": _cold(dsn, HEAVY_CODE),
    }


def _run(code: str, env: dict[str, str]) -> dict[str, float | bool]:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed")
    parsed: dict[str, float | bool] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


_COUNTED = (
    "import psycopg",
    "import psycopg, aws_advanced_python_wrapper",
    "raw psycopg",
    "wrapper plugins='failover'",
    "wrapper default plugins",
)


def _count_instructions(
    variants: dict[str, str], env: dict[str, str], failed: dict[str, str]
) -> dict[str, int]:
    """Instructions of each variant's main thread under valgrind's callgrind (with the warmed bytecode cache): a
    figure that does not move with the machine's load or its page cache, unlike the times above."""
    if shutil.which("valgrind") is None:
        print("\ninstructions: skipped (valgrind not installed)")
        return {}
    counted: dict[str, int] = {}
    for name in _COUNTED:
        if name in failed:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "callgrind.out")
            result = subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    "--separate-threads=yes",
                    f"--callgrind-out-file={out}",
                    sys.executable,
                    "-c",
                    variants[name],
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=600,
                check=False,
            )
            if result.returncode != 0:
                print(f"  {name}: not counted ({result.stderr.strip()[-200:]})")
                continue
            with open(f"{out}-01") as main_thread:
                match = re.search(r"^totals: (\d+)", main_thread.read(), re.MULTILINE)
            if match is not None:
                counted[name] = int(match.group(1))
    return counted


def _option(argv: list[str], name: str, default: str) -> str:
    for arg in argv:
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return default


def _heavy_fixture() -> str | None:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        return f"{HEAVY_DIST} {distribution(HEAVY_DIST).version}"
    except PackageNotFoundError:
        return None


def _default_plugins(env: dict[str, str]) -> str:
    code = "from aws_wrapper.core.registry import REGISTRY; print(','.join(REGISTRY.default_codes()))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else f"? ({result.stderr.strip()[-200:]})"


def _iqr(values: list[float]) -> float:
    if len(values) < 4:
        return 0.0
    quartiles = statistics.quantiles(values, n=4)
    return quartiles[2] - quartiles[0]


def main(argv: list[str]) -> int:
    runs = max(MIN_RUNS, int(_option(argv, "runs", "9")))
    dsn = _option(argv, "pg", PG_DSN)
    env = dict(os.environ)
    cache: tempfile.TemporaryDirectory[str] | None = None
    if "--no-bytecode" in argv:
        mode = (
            "no bytecode cache (PYTHONDONTWRITEBYTECODE as in this environment: sources compiled each start)"
        )
    else:
        cache = tempfile.TemporaryDirectory(prefix="aws-wrapper-cold-start-pyc-")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache.name
        mode = (
            "bytecode cached (PYTHONPYCACHEPREFIX in a temporary directory, warmed up), as an installed app"
        )
    heavy = _heavy_fixture()
    print(f"mode: {mode}")
    print(f"PostgreSQL: {dsn}")
    print(
        f"heavy fixture: {heavy + ' installed (its plugin module imports boto3)' if heavy else 'NOT installed'}"
    )
    print(f"default plugin list (plugins unset): {_default_plugins(env)}")
    variants = _variants(dsn)
    if heavy is None:
        variants.pop(f"wrapper plugins={HEAVY_CODE!r}")
    times: dict[str, list[float]] = {name: [] for name in variants}
    boto3: dict[str, bool] = {name: False for name in variants}
    failed: dict[str, str] = {}
    names = list(variants)
    try:
        for name in names:  # warm-up: writes the bytecode caches, warms the OS page cache
            try:
                _run(variants[name], env)
            except Exception as error:
                failed[name] = str(error)
        for round_index in range(runs):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                if name in failed:
                    continue
                try:
                    figures = _run(variants[name], env)
                except Exception as error:
                    failed[name] = str(error)
                    continue
                times[name].append(float(figures["ms"]))
                boto3[name] = boto3[name] or bool(figures["boto3"])
        counted = _count_instructions(variants, env, failed)
    finally:
        if cache is not None:
            cache.cleanup()

    def median(name: str) -> float:
        return statistics.median(times[name]) if times[name] else float("nan")

    print(f"\nfresh interpreters, median of {runs} (IQR), timed from the child's first statement")
    for name in names:
        if name in failed:
            print(f"  {name:<46} failed: {failed[name]}")
            continue
        line = f"  {name:<46} {median(name):7.1f} ms  (IQR {_iqr(times[name]):5.1f})"
        if name == "import psycopg, aws_advanced_python_wrapper":
            line += f"  {median(name) - median('import psycopg'):+6.1f} ms vs import psycopg (target <= +10)"
        elif name.startswith("wrapper"):
            line += f"  {median(name) - median('raw psycopg'):+6.1f} ms vs raw psycopg"
            if name in ("wrapper plugins='failover'", "wrapper default plugins"):
                line += " (target <= +15)"
        if name not in ("import psycopg", "raw psycopg"):
            line += f"  boto3 imported: {'yes' if boto3[name] else 'no'}"
        print(line)
    if counted:
        print("\ninstructions of the main thread (callgrind; exact, whatever the machine's load)")
        for name, count in counted.items():
            line = f"  {name:<46} {count / 1e6:7.1f} M"
            if name == "import psycopg, aws_advanced_python_wrapper" and "import psycopg" in counted:
                line += f"  {(count - counted['import psycopg']) / 1e6:+6.1f} M vs import psycopg"
            elif name.startswith("wrapper") and "raw psycopg" in counted:
                line += f"  {(count - counted['raw psycopg']) / 1e6:+6.1f} M vs raw psycopg"
            print(line)
    lazy = [n for n in ("wrapper plugins='failover'", "wrapper default plugins") if n not in failed]
    print(
        f"boto3 imported: {'yes' if any(boto3[n] for n in lazy) else 'no'} (plugins='failover' and the defaults)"
    )
    return 1 if failed or any(boto3[n] for n in lazy) or heavy is None else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

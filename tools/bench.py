"""Run the benchmarks (``./dev bench [NAME ...]``): every ``benchmarks/*.py`` module, or the ones named.

Each benchmark module has a ``main(argv: list[str]) -> int`` that prints its figures. Benchmarks print numbers;
they never assert timings.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    names = [a for a in argv if not a.startswith("-")]
    options = [a for a in argv if a.startswith("-")]
    modules = sorted(p for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_"))
    if names:
        modules = [m for m in modules if m.stem in names]
        if not modules:
            print(f"no benchmark named {names}; have: {[p.stem for p in (ROOT / 'benchmarks').glob('*.py')]}")
            return 2
    status = 0
    for path in modules:
        spec = importlib.util.spec_from_file_location(f"benchmarks.{path.stem}", path)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot load benchmark {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses and pickling look modules up by name
        spec.loader.exec_module(module)
        print(f"\n=== {path.stem} ===", flush=True)
        status |= int(module.main(options))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

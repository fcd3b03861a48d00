"""Create a new distribution from packages/_template.

    python tools/new_package.py wrapper-foo aws_wrapper.foo [--description TEXT] [--root DIR]

makes packages/wrapper-foo (distribution ``aws-wrapper-foo``, import ``aws_wrapper.foo``, src layout, version.py,
py.typed, README, CHANGELOG, a first test) and docs/foo.md. ``aws_wrapper``, ``aws_wrapper.auth`` and
``aws_wrapper.telemetry`` stay PEP 420 namespaces: no ``__init__.py`` is written for them.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "packages" / "_template"
_DIR = re.compile(r"wrapper-[a-z][a-z0-9]*(-[a-z0-9]+)*")
_MODULE = re.compile(r"aws_wrapper(\.[a-z_][a-z0-9_]*)+")
_NAMESPACES = ("aws_wrapper", "aws_wrapper.auth", "aws_wrapper.telemetry")


def placeholders(directory: str, module: str, description: str) -> dict[str, str]:
    short = directory.removeprefix("wrapper-")
    return {
        "dist": f"aws-{directory}",
        "module": module,
        "module_path": module.replace(".", "/"),
        "description": description,
        "page": f"{short}.md",
        "extra": short,
    }


def fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    left = re.findall(r"\{\{[a-z_]+\}\}", text)
    if left:
        raise SystemExit(f"unknown placeholder(s) {sorted(set(left))} in the template")
    return text


def create(directory: str, module: str, description: str, root: Path) -> list[Path]:
    """Write the new package under ``root`` and return the files written."""
    if not _DIR.fullmatch(directory):
        raise SystemExit(f"invalid directory name {directory!r}: expected wrapper-<name>, e.g. wrapper-foo")
    if not _MODULE.fullmatch(module) or module in _NAMESPACES:
        raise SystemExit(
            f"invalid module {module!r}: expected aws_wrapper.<name> (or aws_wrapper.auth.<name>, "
            "aws_wrapper.telemetry.<name>)"
        )
    target = root / "packages" / directory
    if target.exists():
        raise SystemExit(f"{target} already exists")
    values = placeholders(directory, module, description)
    docs_page = root / "docs" / values["page"]
    if docs_page.exists():
        raise SystemExit(f"{docs_page} already exists")

    written: list[Path] = []
    for source in sorted(TEMPLATE.rglob("*")):
        if not source.is_file() or "__pycache__" in source.parts:
            continue
        relative = source.relative_to(TEMPLATE).as_posix()
        if relative == "docs-page.md":
            destination = docs_page
        else:
            relative = relative.replace("__module__", values["module_path"]).removesuffix(".tmpl")
            destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix in (".md", ".toml", ".tmpl", ".py"):
            text = fill(source.read_text(), values)
            if destination.name == "pyproject.toml":  # drop the "this is a template" header
                text = text[text.index("[build-system]") :]
            destination.write_text(text)
        else:
            destination.write_bytes(source.read_bytes())
        written.append(destination)
    for namespace in _NAMESPACES:
        stray = target / "src" / namespace.replace(".", "/") / "__init__.py"
        if stray.exists():
            raise SystemExit(f"the template produced {stray}, which would break the {namespace} namespace")
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("directory", help="directory under packages/, e.g. wrapper-foo")
    parser.add_argument("module", help="import path, e.g. aws_wrapper.foo or aws_wrapper.auth.foo")
    parser.add_argument("--description", default="TODO: one line saying what this distribution adds.")
    parser.add_argument("--root", type=Path, default=ROOT, help="workspace root (default: this checkout)")
    args = parser.parse_args(argv)
    written = create(args.directory, args.module, args.description, args.root)
    for path in written:
        print("created", path)
    short = args.directory.removeprefix("wrapper-")
    print(
        "next: add an extra to packages/aws-wrapper/pyproject.toml "
        f'({short} = ["aws-{args.directory}>=0.1.0"] and to all), a row to the README table, then ./dev test'
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

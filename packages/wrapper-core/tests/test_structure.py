"""Repository rules every distribution under packages/ must follow (run as part of the test suite).

* ``aws_wrapper``, ``aws_wrapper.auth`` and ``aws_wrapper.telemetry`` are PEP 420 namespaces: nobody ships their
  ``__init__.py``.
* Each distribution has ``src/aws_wrapper/<pkg>/version.py`` (its single version source, named by
  ``[tool.hatch.version] path``), ``py.typed``, ``README.md``, ``CHANGELOG.md`` and a page under ``docs/``.
* The meta-package ``aws-wrapper`` (no code) has extras that name only workspace distributions, and one for each.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - pytest depends on tomli before 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[3]
META = "aws-wrapper"
#: Distributions whose docs page is not docs/<dir without "wrapper-">.md.
DOC_PAGES = {
    "wrapper-testing": ("testing.md", "local-cluster.md"),
    "wrapper-telemetry-otel": ("telemetry.md",),
    "wrapper-telemetry-xray": ("telemetry.md",),
}
_REQUIREMENT_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def package_dirs(root: Path) -> list[Path]:
    return sorted(
        p.parent for p in (root / "packages").glob("*/pyproject.toml") if not p.parent.name.startswith("_")
    )


def load(pkg: Path) -> dict[str, Any]:
    return tomllib.loads((pkg / "pyproject.toml").read_text())


def doc_pages(directory: str) -> tuple[str, ...]:
    return DOC_PAGES.get(directory, (directory.removeprefix("wrapper-") + ".md",))


def problems(pkg: Path, root: Path) -> list[str]:
    """Everything wrong with distribution directory ``pkg`` (empty when it follows the rules)."""
    found: list[str] = []
    name = pkg.name
    for namespace in ("aws_wrapper", "aws_wrapper/auth", "aws_wrapper/telemetry"):
        if (pkg / "src" / namespace / "__init__.py").exists():
            found.append(f"{name}: ships src/{namespace}/__init__.py, which breaks the PEP 420 namespace")
    for required in ("README.md", "CHANGELOG.md"):
        if not (pkg / required).is_file():
            found.append(f"{name}: no {required}")
    if name == META:
        return found
    project = load(pkg)
    if project["project"].get("name") != f"aws-{name}":
        found.append(f"{name}: distribution name {project['project'].get('name')!r} is not 'aws-{name}'")
    if "version" not in project["project"].get("dynamic", []):
        found.append(f"{name}: the version is not dynamic (read from version.py)")
    version_path = project.get("tool", {}).get("hatch", {}).get("version", {}).get("path")
    if not version_path:
        found.append(f"{name}: no [tool.hatch.version] path")
        return found
    version_file = pkg / version_path
    if not version_file.is_file():
        found.append(f"{name}: [tool.hatch.version] path {version_path!r} does not exist")
        return found
    parts = Path(version_path).parts
    if parts[:2] != ("src", "aws_wrapper") or parts[-1] != "version.py" or len(parts) < 4:
        found.append(f"{name}: version file {version_path!r} is not src/aws_wrapper/<pkg>/version.py")
    if not re.search(r'^__version__ = "[^"]+"$', version_file.read_text(), re.MULTILINE):
        found.append(f"{name}: {version_path} does not define __version__")
    if not (version_file.parent / "py.typed").is_file():
        found.append(f"{name}: no py.typed next to {version_path}")
    pages = doc_pages(name)
    if not any((root / "docs" / page).is_file() for page in pages):
        found.append(f"{name}: no docs page ({' or '.join('docs/' + p for p in pages)})")
    return found


def test_there_are_distributions_and_a_meta_package() -> None:
    names = [p.name for p in package_dirs(ROOT)]
    assert "wrapper-core" in names
    assert META in names


@pytest.mark.parametrize("pkg", package_dirs(ROOT), ids=lambda p: p.name)
def test_distribution_follows_the_layout(pkg: Path) -> None:
    assert problems(pkg, ROOT) == []


def test_meta_package_extras_name_only_workspace_distributions_and_each_one() -> None:
    workspace = {load(p)["project"]["name"] for p in package_dirs(ROOT) if p.name != META}
    extras: dict[str, list[str]] = load(ROOT / "packages" / META)["project"].get("optional-dependencies", {})
    referenced: set[str] = set()
    unknown: list[str] = []
    for extra, requirements in extras.items():
        for requirement in requirements:
            match = _REQUIREMENT_NAME.match(requirement)
            assert match is not None, requirement
            dist = match.group(1).lower().replace("_", "-")
            referenced.add(dist)
            if dist not in workspace:
                unknown.append(f"[{extra}] {requirement}")
    assert unknown == []
    assert {"all", "pg", "mysql"} <= set(extras)
    assert sorted(workspace - referenced - {"aws-wrapper-core"}) == []


def test_the_template_and_new_package_tool_produce_a_conforming_distribution(tmp_path: Path) -> None:
    (tmp_path / "packages").mkdir()
    (tmp_path / "docs").mkdir()
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "new_package.py"), "wrapper-auth-foo", "aws_wrapper.auth.foo",
         "--root", str(tmp_path), "--description", "Foo authentication."],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    pkg = tmp_path / "packages" / "wrapper-auth-foo"
    assert problems(pkg, tmp_path) == []
    assert load(pkg)["project"]["description"] == "Foo authentication."
    assert not (pkg / "src" / "aws_wrapper" / "auth" / "__init__.py").exists()
    assert (pkg / "src" / "aws_wrapper" / "auth" / "foo" / "__init__.py").is_file()
    assert "{{" not in "".join(
        p.read_text() for p in pkg.rglob("*") if p.is_file() and p.suffix in (".py", ".md", ".toml")
    )
    again = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "new_package.py"), "wrapper-auth-foo", "aws_wrapper.auth.foo",
         "--root", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert again.returncode != 0
    assert "already exists" in again.stderr


@pytest.mark.parametrize(
    ("directory", "module", "message"),
    [
        ("foo", "aws_wrapper.foo", "invalid directory name 'foo'"),
        ("wrapper-foo", "aws_wrapper", "invalid module 'aws_wrapper'"),
        ("wrapper-foo", "aws_wrapper.auth", "invalid module 'aws_wrapper.auth'"),
        ("wrapper-foo", "foo", "invalid module 'foo'"),
    ],
)
def test_new_package_tool_rejects_bad_names(
    tmp_path: Path, directory: str, module: str, message: str
) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "new_package.py"), directory, module, "--root", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert message in result.stderr


def test_problems_are_reported(tmp_path: Path) -> None:
    pkg = tmp_path / "packages" / "wrapper-bad"
    (pkg / "src" / "aws_wrapper" / "bad").mkdir(parents=True)
    (pkg / "src" / "aws_wrapper" / "__init__.py").write_text("")
    (pkg / "pyproject.toml").write_text(
        '[project]\nname = "bad"\nversion = "1"\n[tool.hatch.version]\npath = "src/aws_wrapper/bad/version.py"\n'
    )
    assert problems(pkg, tmp_path) == [
        "wrapper-bad: ships src/aws_wrapper/__init__.py, which breaks the PEP 420 namespace",
        "wrapper-bad: no README.md",
        "wrapper-bad: no CHANGELOG.md",
        "wrapper-bad: distribution name 'bad' is not 'aws-wrapper-bad'",
        "wrapper-bad: the version is not dynamic (read from version.py)",
        "wrapper-bad: [tool.hatch.version] path 'src/aws_wrapper/bad/version.py' does not exist",
    ]

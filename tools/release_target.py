"""Map a release tag ``<distribution>-v<version>`` to its package directory; fail unless the versions agree."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def main(tag: str) -> int:
    match = re.fullmatch(r"(?P<dist>[a-z0-9-]+)-v(?P<version>\d[\w.+-]*)", tag)
    if not match:
        print(f"tag {tag!r} is not of the form <distribution>-v<version>", file=sys.stderr)
        return 2
    for pyproject in sorted((ROOT / "packages").glob("*/pyproject.toml")):
        meta = tomllib.loads(pyproject.read_text())
        if meta["project"]["name"] != match["dist"]:
            continue
        version = meta["project"].get("version")
        if version is None:
            path = pyproject.parent / meta["tool"]["hatch"]["version"]["path"]
            found = re.search(r'__version__\s*=\s*"([^"]+)"', path.read_text())
            version = found.group(1) if found else None
        if version != match["version"]:
            print(f"tag says {match['version']!r} but {match['dist']} is at {version!r}", file=sys.stderr)
            return 1
        print(f"dir={pyproject.parent.relative_to(ROOT)}")
        return 0
    print(f"no distribution named {match['dist']!r} under packages/", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

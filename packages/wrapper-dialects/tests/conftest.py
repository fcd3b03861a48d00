from __future__ import annotations

import sys
from pathlib import Path

# The test helpers (dialects_fakes.py) are imported by name: every package's tests directory is called "tests",
# so relative imports would collide with another package's helpers.
_here = str(Path(__file__).parent)
if _here not in sys.path:
    sys.path.insert(0, _here)

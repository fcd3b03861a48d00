from __future__ import annotations

import sys
from pathlib import Path

# The helpers (dialects_support.py) are imported by name: relative imports would collide with the helpers of
# other test directories (every package's tests directory has the same name).
_here = str(Path(__file__).parent)
if _here not in sys.path:
    sys.path.insert(0, _here)

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aws_wrapper.core import release_resources
from aws_wrapper.dialects import aurora_mysql_on_mariadb, register_dialect, unregister_dialect

# The helpers (dialects_support.py) are imported by name: relative imports would collide with the helpers of
# other test directories (every package's tests directory has the same name).
_here = str(Path(__file__).parent)
if _here not in sys.path:
    sys.path.insert(0, _here)


@pytest.fixture
def local_aurora_mysql() -> Iterator[None]:
    """The MariaDB variant of the Aurora MySQL dialect (``aurora-mysql-local``) registered for one test; every
    wrapper resource is released afterwards."""
    register_dialect(aurora_mysql_on_mariadb(), replace=True)
    yield
    release_resources()
    unregister_dialect("aurora-mysql-local")

"""aws-wrapper-testing: a local Aurora / RDS cluster on real PostgreSQL and MariaDB servers."""

from __future__ import annotations

from .version import __version__

__all__ = ["__version__"]

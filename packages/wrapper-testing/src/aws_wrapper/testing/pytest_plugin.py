"""pytest plugin of aws-wrapper-testing (placeholder while the package is being built)."""

from __future__ import annotations

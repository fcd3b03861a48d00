from __future__ import annotations

import logging
import sys

__all__ = ["set_logger"]


def set_logger(
    name: str = "aws_wrapper", level: int = logging.DEBUG, format_string: str | None = None
) -> None:
    """Send the wrapper's log records (logger ``name`` and its children) to stdout at ``level``."""
    logger = logging.getLogger(name)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(format_string or "%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s")
    )
    logger.addHandler(handler)
    logger.setLevel(level)

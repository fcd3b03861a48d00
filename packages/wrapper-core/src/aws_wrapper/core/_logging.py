from __future__ import annotations

import logging
import sys

from ._log_names import install_upstream_loggers

__all__ = ["set_logger"]

# Each plugin's leaf logger also answers to upstream's name (aws_advanced_python_wrapper.failover_plugin, ...):
# installed here, at import, before any plugin module asks for its logger (see _log_names).
install_upstream_loggers()


def set_logger(
    name: str = "aws_wrapper", level: int = logging.DEBUG, format_string: str | None = None
) -> None:
    """Send the wrapper's log records (logger ``name`` and its children) to stdout at ``level``.

    ``name`` may also be one of upstream's names (``"aws_advanced_python_wrapper"``, or a module's, e.g.
    ``"aws_advanced_python_wrapper.failover_plugin"``): the plugins' records reach those too."""
    logger = logging.getLogger(name)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(format_string or "%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s")
    )
    logger.addHandler(handler)
    logger.setLevel(level)

"""A logging filter that adds the active OpenTelemetry span's ids to log records."""

from __future__ import annotations

import logging

from opentelemetry import trace

__all__ = ["TraceIdFilter"]


class TraceIdFilter(logging.Filter):
    """Sets ``record.trace_id`` and ``record.span_id`` (lowercase hex, as OpenTelemetry prints them; ``""`` when no
    span is active) on every record it sees, and lets every record through. Add it to a *handler* (a logger's
    filters do not apply to its children's records):

    .. code-block:: python

        handler.addFilter(TraceIdFilter())
        handler.setFormatter(logging.Formatter("%(trace_id)s %(name)s %(message)s"))

    ``name`` limits it to records of that logger and its children (default ``aws_wrapper``); other records pass
    unchanged."""

    def __init__(self, name: str = "aws_wrapper") -> None:
        super().__init__(name)

    def filter(self, record: logging.LogRecord) -> bool:
        if not super().filter(record):
            if not hasattr(record, "trace_id"):  # a formatter naming %(trace_id)s must not fail
                record.trace_id = record.span_id = ""
            return True
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        else:
            record.trace_id = record.span_id = ""
        return True

"""A logging filter that adds the current X-Ray trace id to log records."""

from __future__ import annotations

import logging
from typing import Any

from ._factory import current_entities

__all__ = ["TraceIdFilter"]


class TraceIdFilter(logging.Filter):
    """Sets ``record.trace_id`` (X-Ray's ``1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx``) and ``record.span_id`` (the
    current segment or subsegment id), ``""`` when nothing is open on the thread, on records of ``name`` (default
    ``aws_wrapper``) and its children; lets every record through. Add it to a handler."""

    def __init__(self, name: str = "aws_wrapper", recorder: Any = None) -> None:
        super().__init__(name)
        self._recorder = recorder

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = record.span_id = ""
        if not super().filter(record):
            return True
        entities = current_entities(self._recorder)
        if entities:
            entity = entities[-1]
            record.trace_id = str(getattr(entity, "trace_id", "") or "")
            record.span_id = str(getattr(entity, "id", "") or "")
        return True

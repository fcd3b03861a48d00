"""Upstream's ``aws_advanced_python_wrapper.states.session_state`` path."""

from __future__ import annotations

from aws_wrapper.core.session_state import SessionState, SessionValue

__all__ = ["SessionState", "SessionValue"]

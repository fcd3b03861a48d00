"""Upstream's ``aws_advanced_python_wrapper.states`` (the documented import path works here)."""

from __future__ import annotations

from aws_wrapper.core.session_state import SessionState, SessionStateTransferHandlers

__all__ = ["SessionState", "SessionStateTransferHandlers"]

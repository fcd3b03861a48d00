"""Upstream's ``aws_advanced_python_wrapper.states.session_state_service`` path."""

from __future__ import annotations

from aws_wrapper.core.session_state import SessionState, SessionStateTransferHandlers

__all__ = ["SessionState", "SessionStateTransferHandlers"]

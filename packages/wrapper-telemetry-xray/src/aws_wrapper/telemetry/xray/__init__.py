"""AWS X-Ray traces for aws-wrapper (through aws-xray-sdk). Enable it per connection with
``enable_telemetry=True`` and ``telemetry_traces_backend="xray"`` (see docs/telemetry.md); X-Ray has no metrics."""

from __future__ import annotations

from ._factory import XRayTelemetryFactory, current_entities
from ._logging import TraceIdFilter
from .version import __version__

__all__ = ["TraceIdFilter", "XRayTelemetryFactory", "__version__", "current_entities"]

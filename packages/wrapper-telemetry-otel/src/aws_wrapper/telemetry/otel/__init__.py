"""OpenTelemetry traces and metrics for aws-wrapper, through the ``opentelemetry-api`` only: the application
configures the SDK (providers and exporters). Enable it per connection with ``enable_telemetry=True``,
``telemetry_traces_backend="otlp"`` and / or ``telemetry_metrics_backend="otlp"`` (see docs/telemetry.md)."""

from __future__ import annotations

from ._factory import INSTRUMENTATION_NAME, OtelTelemetryFactory
from ._logging import TraceIdFilter
from .version import __version__

__all__ = ["INSTRUMENTATION_NAME", "OtelTelemetryFactory", "TraceIdFilter", "__version__"]

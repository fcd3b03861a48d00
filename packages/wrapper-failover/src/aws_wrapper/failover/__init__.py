"""aws-wrapper-failover: writer/reader failover, connection tracker, stale DNS and initial connection strategy.

Plugin codes (entry points of the ``aws_wrapper.plugins`` group):

* ``failover`` (aliases ``failover_v2``, ``failover2``) - :class:`FailoverPluginFactory`
* ``aurora_connection_tracker`` (``auroraConnectionTracker``) - :class:`ConnectionTrackerPluginFactory`
* ``stale_dns`` (``staleDns``) - :class:`StaleDnsPluginFactory`
* ``initial_connection`` (``auroraInitialConnectionStrategy``, ``initialConnection``) -
  :class:`InitialConnectionPluginFactory`

See ``docs/failover.md``. ``python -m aws_wrapper.failover.demo`` crashes the writer of a local cluster under a
running application and prints the timeline.
"""

from __future__ import annotations

from ._config import FAILOVER_SETTINGS, INITIAL_CONNECTION_SETTINGS, FailoverConfig, FailoverMode
from ._failover import FailoverPlugin, FailoverPluginFactory
from ._initial import InitialConnectionPlugin, InitialConnectionPluginFactory
from ._stale_dns import StaleDnsHelper, StaleDnsPlugin, StaleDnsPluginFactory
from ._tracker import TRACKER, ConnectionTracker, ConnectionTrackerPlugin, ConnectionTrackerPluginFactory
from .version import __version__

__all__ = [
    "__version__",
    "FailoverMode",
    "FailoverConfig",
    "FAILOVER_SETTINGS",
    "INITIAL_CONNECTION_SETTINGS",
    "FailoverPlugin",
    "FailoverPluginFactory",
    "ConnectionTracker",
    "TRACKER",
    "ConnectionTrackerPlugin",
    "ConnectionTrackerPluginFactory",
    "StaleDnsHelper",
    "StaleDnsPlugin",
    "StaleDnsPluginFactory",
    "InitialConnectionPlugin",
    "InitialConnectionPluginFactory",
]

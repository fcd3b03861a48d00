from __future__ import annotations


class ClusterError(RuntimeError):
    """An operation on the local cluster failed; the message names the node and carries the server log tail."""

"""The managed-database facts of a PostgreSQL cluster: which SQL each flavour installs, and the cluster state
document those functions read (catalogue sections 5.3 and 5.4; recipes sections 1.4 and 7).

The functions are installed once, in ``template1`` and ``postgres`` on the writer (so every database created
later has them too), and replicate. The state they read (instances, the writer last promoted, test overrides)
is one JSON document in the comment of the role ``aurora_sim``: a shared catalog, so every database sees the
same state, and WAL-logged, so every node does. Each node knows its own identity from ``node.conf``
(``aurora_sim.instance_id``), which is never replicated.
"""

from __future__ import annotations

import base64
import hashlib
import json
from importlib import resources

from ._engine import Flavour, Layout, Node

STATE_ROLE = "aurora_sim"
IDENTITY_SETTING = "aurora_sim.instance_id"

# what rds.extensions lists per flavour: aurora-pg probes for aurora_stat_utils, rds-pg for rds_tools without it
EXTENSIONS: dict[Flavour, str] = {
    Flavour.AURORA: "aurora_stat_utils",
    Flavour.RDS: "rds_tools",
    Flavour.MULTI_AZ: "rds_tools",
}


def _sql(name: str) -> str:
    return resources.files("aws_wrapper.testing").joinpath("sql").joinpath(name).read_text(encoding="utf-8")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def install_scripts(flavour: Flavour) -> list[str]:
    """The SQL scripts (each one multi-statement string) that install ``flavour``'s facts in one database."""
    if flavour is Flavour.PLAIN:
        return []
    scripts = [_sql("pg_common.sql")]
    if flavour is Flavour.AURORA:
        scripts.append(_sql("pg_aurora.sql"))
    else:
        multi_az = "true" if flavour is Flavour.MULTI_AZ else "false"
        scripts.append(_sql("pg_rds_tools.sql").replace(":multi_az", multi_az))
    scripts.append(_sql("pg_settings.sql").replace(":extensions", _literal(EXTENSIONS[flavour])))
    return scripts


def resource_id(layout: Layout, node: Node) -> str:
    """A stable RDS-style DbiResourceId for ``node`` (``db-`` and 26 upper-case base32 characters)."""
    digest = hashlib.sha256(f"{layout.cluster_name}/{node.instance_id}".encode()).digest()
    return "db-" + base64.b32encode(digest).decode()[:26]


def endpoint(layout: Layout, node: Node) -> str:
    """The RDS-shaped instance DNS name of ``node``: ``<instance id>.<domain>``."""
    return node.extra.get("endpoint") or f"{node.instance_id}.{layout.domain}"


def state_document(layout: Layout, writer: str | None, override: str | None, hidden: frozenset[str]) -> str:
    """The JSON the emulation functions read (see ``sql/pg_common.sql``)."""
    instances = [
        {
            "id": node.instance_id,
            "server_host": node.server_host,
            "server_port": node.port,
            "host": node.advertised_host or node.server_host,
            "port": node.advertised_port or node.port,
            "endpoint": endpoint(layout, node),
            "resource_id": resource_id(layout, node),
            "cpu": float(node.extra.get("cpu", "1.5")),
            "replica_lag_in_msec": float(node.extra.get("replica_lag_in_msec", "0")),
            "hidden": node.instance_id in hidden,
        }
        for node in layout.nodes
    ]
    return json.dumps({"writer": writer, "writer_override": override, "instances": instances}, sort_keys=True)

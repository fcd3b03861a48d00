"""What each flavour installs in PostgreSQL, and the state document the emulation functions read."""

from __future__ import annotations

import json
import re
from pathlib import Path

from aws_wrapper.testing import Flavour, Layout, Node
from aws_wrapper.testing._pg_facts import EXTENSIONS, install_scripts, resource_id, state_document


def _layout(flavour: Flavour = Flavour.AURORA) -> Layout:
    nodes = [
        Node(
            i,
            f"instance-{i}",
            f"127.9.9.{110 + i}",
            5432,
            Path(f"/x/n{i}/data"),
            i,
            f"127.9.9.{10 + i}",
            5432,
        )
        for i in (1, 2)
    ]
    nodes[0].extra["endpoint"] = "instance-1.abc.us-east-1.rds.amazonaws.com"
    return Layout(work_dir=Path("/x"), flavour=flavour, nodes=nodes, user="postgres")


def test_plain_installs_nothing() -> None:
    assert install_scripts(Flavour.PLAIN) == []


def test_aurora_installs_the_functions_and_the_extension_list() -> None:
    text = "\n".join(install_scripts(Flavour.AURORA))
    assert "pg_catalog.aurora_replica_status()" in text
    assert "pg_catalog.aurora_db_instance_identifier()" in text
    assert "rds_tools" not in text
    assert ":extensions" not in text
    assert "'aurora_stat_utils'" in text


def test_rds_and_multi_az_differ_only_in_the_source_function() -> None:
    rds = "\n".join(install_scripts(Flavour.RDS))
    multi_az = "\n".join(install_scripts(Flavour.MULTI_AZ))
    assert "aurora_replica_status" not in rds
    assert "WHERE false AND" in rds
    assert "WHERE true AND" in multi_az
    assert EXTENSIONS[Flavour.RDS] == EXTENSIONS[Flavour.MULTI_AZ] == "rds_tools"


def test_resource_ids_are_stable_and_rds_shaped() -> None:
    layout = _layout()
    first, second = (resource_id(layout, n) for n in layout.nodes)
    assert first != second
    assert first == resource_id(_layout(), _layout().nodes[0])
    assert re.fullmatch(r"db-[A-Z2-7]{26}", first)


def test_state_document() -> None:
    layout = _layout()
    doc = json.loads(state_document(layout, "instance-1", "instance-2", frozenset({"instance-2"})))
    assert doc["writer"] == "instance-1"
    assert doc["writer_override"] == "instance-2"
    one, two = doc["instances"]
    assert one["endpoint"] == "instance-1.abc.us-east-1.rds.amazonaws.com"
    assert two["endpoint"] == "instance-2.xyz123abc456.us-east-1.rds.amazonaws.com"
    assert (one["server_host"], one["host"], one["port"]) == ("127.9.9.111", "127.9.9.11", 5432)
    assert (one["hidden"], two["hidden"]) == (False, True)

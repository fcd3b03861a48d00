from __future__ import annotations

import datetime

import pytest
from dialects_fakes import FakeDriver

from aws_wrapper.core.hostinfo import HostInfo, HostRole
from aws_wrapper.dialects import (
    AURORA_PG,
    GLOBAL_AURORA_PG,
    MULTI_AZ_MYSQL,
    MULTI_AZ_PG,
    Dialect,
    NoWriterError,
)
from aws_wrapper.dialects._settings import TopologyConfig
from aws_wrapper.dialects._topology import TopologyReader, instance_name, load_weight

DOMAIN = "xyz123abc456.us-east-1.rds.amazonaws.com"


def _reader(
    dialect: Dialect, host: str = f"mydb.cluster-{DOMAIN}", port: int = 5432, **props: str
) -> TopologyReader:
    initial = HostInfo(host, port)
    return TopologyReader(dialect, TopologyConfig.parse(props, initial), initial, FakeDriver(dialect))  # type: ignore[arg-type]


def _ts(seconds_ago: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds_ago)


def test_aurora_rows_become_hosts_with_roles_weights_and_times() -> None:
    reader = _reader(AURORA_PG)
    topology = reader.parse(
        [
            ("inst-2", False, 50.0, 1000.0, _ts(1)),
            ("inst-1", True, 20.0, 0.0, _ts(0)),
            ("inst-3", False, 5.0, 0.0, _ts(2)),
        ]
    )
    assert [h.host for h in topology.hosts] == [f"inst-1.{DOMAIN}", f"inst-2.{DOMAIN}", f"inst-3.{DOMAIN}"]
    assert [h.role for h in topology.hosts] == [HostRole.WRITER, HostRole.READER, HostRole.READER]
    assert all(h.port == 5432 for h in topology.hosts)
    assert topology.writer.host_id == "inst-1"
    assert [h.weight for h in topology.hosts] == [80, 40, 95]  # 100 - cpu - lag/100 ms
    last_update = topology.hosts[2].last_update
    assert last_update is not None
    assert abs(last_update - _ts(2).timestamp()) < 1
    assert topology.find(["inst-3"]) is topology.hosts[2]


def test_newest_writer_wins_and_stale_writers_are_dropped() -> None:
    topology = _reader(AURORA_PG).parse(
        [("old", True, 1.0, 0.0, _ts(30)), ("new", True, 1.0, 0.0, _ts(1)), ("r", False, 1.0, 0.0, _ts(1))]
    )
    assert [(h.host_id, h.role) for h in topology.hosts] == [("new", HostRole.WRITER), ("r", HostRole.READER)]


@pytest.mark.parametrize(
    "rows",
    [[], [("a", False, 1.0, 0.0, None), ("b", False, 1.0, 0.0, None)], [(None, True, 0, 0, None)]],
    ids=["empty", "readers-only", "null-id"],
)
def test_a_topology_without_writer_is_invalid(rows: list[tuple[object, ...]]) -> None:
    with pytest.raises(NoWriterError, match="names no writer"):
        _reader(AURORA_PG).parse(rows)


def test_pattern_port_and_booleans_as_servers_send_them() -> None:
    reader = _reader(
        AURORA_PG, host="10.0.0.5", port=6432, cluster_instance_host_pattern="?.corp.example:7000"
    )
    topology = reader.parse([("w", 1, "3", None, None), ("r", b"0", None, None, None)])
    assert topology.writer == HostInfo("w.corp.example", 7000, HostRole.WRITER)
    assert topology.readers == (HostInfo("r.corp.example", 7000, HostRole.READER),)
    ip_reader = _reader(AURORA_PG, host="127.0.42.10", port=6432, cluster_instance_host_pattern="?")
    assert ip_reader.parse([("127.0.42.11", "t", 0, 0, None)]).writer == HostInfo("127.0.42.11", 6432)


def test_multi_az_rows_use_the_writer_id_and_instance_names() -> None:
    reader = _reader(MULTI_AZ_PG, host=f"mydb.cluster-{DOMAIN}")
    rows = [
        ("db-AAA", f"inst-1.{DOMAIN}", 5432),
        ("db-BBB", f"inst-2.{DOMAIN}", 5432),
        ("db-CCC", f"inst-3.{DOMAIN}", 5432),
    ]
    topology = reader.parse(rows, writer_id="db-BBB")
    assert topology.writer.host == f"inst-2.{DOMAIN}"
    assert topology.writer.host_id == "inst-2"
    assert [h.role for h in topology.hosts].count(HostRole.WRITER) == 1
    assert topology.find(["db-CCC"]) is topology.find(["inst-3"])  # resource id and name both identify it
    with pytest.raises(NoWriterError):
        reader.parse(rows, writer_id=None)


def test_multi_az_with_ip_connection_uses_the_pattern_or_the_endpoint() -> None:
    rows = [("1", f"127.0.42.21.{DOMAIN}", 3306), ("2", f"127.0.42.22.{DOMAIN}", 3306)]
    with_pattern = _reader(MULTI_AZ_MYSQL, host="127.0.42.10", port=3306, cluster_instance_host_pattern="?")
    assert [h.host for h in with_pattern.parse(rows, writer_id="2").hosts] == ["127.0.42.22", "127.0.42.21"]
    without = _reader(MULTI_AZ_MYSQL, host="127.0.42.10", port=3306)
    assert without.parse(rows, writer_id="1").writer.host == f"127.0.42.21.{DOMAIN}"


def test_global_rows_use_region_patterns() -> None:
    reader = _reader(
        GLOBAL_AURORA_PG,
        host=f"g.global-{DOMAIN.replace('us-east-1', 'global')}",
        cluster_instance_host_pattern="?.home.example",
        global_cluster_instance_host_patterns="us-east-1:?.east.example,eu-west-1:?.west.example:6543",
    )
    topology = reader.parse(
        [("w", True, 0.0, "us-east-1"), ("r", False, 2000.0, "eu-west-1"), ("x", False, 0, "ap")]
    )
    assert [(h.host, h.port) for h in topology.hosts] == [
        ("w.east.example", 5432),
        ("r.west.example", 6543),
        ("x.home.example", 5432),
    ]
    assert topology.hosts[1].weight == 80


def test_with_writer_moves_the_writer_role() -> None:
    topology = _reader(AURORA_PG).parse([("a", True, 0, 0, None), ("b", False, 0, 0, None)])
    moved = topology.with_writer(topology.hosts[1])
    assert [(h.host_id, h.role) for h in moved.hosts] == [("b", HostRole.WRITER), ("a", HostRole.READER)]
    assert moved.find(["a"]) == moved.hosts[1]
    assert topology.with_writer(topology.writer) is topology


def test_helpers() -> None:
    assert instance_name(f"inst-9.{DOMAIN}") == "inst-9"
    assert instance_name("10.1.2.3") == "10.1.2.3"
    assert instance_name("db7.corp.example") == "db7"
    assert load_weight(0, 0) == 100
    assert load_weight(250, 0) == 1
    assert load_weight(-5, -5) == 100

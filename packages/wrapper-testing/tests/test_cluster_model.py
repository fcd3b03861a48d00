"""Status values: JSON round trip (what the CLI exchanges) and the human-readable rendering."""

from __future__ import annotations

import json

from aws_wrapper.testing import ClusterStatus, Endpoint, Event, InstanceStatus


def _status() -> ClusterStatus:
    instances = tuple(
        InstanceStatus(
            instance_id=f"127.5.5.{10 + i}",
            index=i,
            role="writer" if i == 1 else "reader",
            alive=i != 3,
            proxy_mode="blackhole" if i == 2 else "pass",
            endpoint=Endpoint(f"127.5.5.{10 + i}", 5432, f"instance-{i}.abc.us-east-1.rds.amazonaws.com"),
            server_host=f"127.5.5.{110 + i}",
            server_port=5432,
        )
        for i in (1, 2, 3)
    )
    return ClusterStatus(
        engine="pg",
        flavour="aurora",
        running=True,
        writer="127.5.5.11",
        writer_endpoint=Endpoint("127.5.5.10", 5432, "mydb.cluster-abc.us-east-1.rds.amazonaws.com"),
        reader_endpoint=Endpoint("127.5.5.9", 5432, "mydb.cluster-ro-abc.us-east-1.rds.amazonaws.com"),
        instances=instances,
        user="postgres",
        database="test",
        work_dir="/dev/shm/x",
        hosts_file="/dev/shm/x/hosts",
    )


def test_status_survives_json() -> None:
    status = _status()
    assert ClusterStatus.from_dict(json.loads(json.dumps(status.to_dict()))) == status


def test_render_names_endpoints_roles_and_faults() -> None:
    text = _status().render()
    assert "writer      127.5.5.10:5432  mydb.cluster-abc" in text
    assert "-> 127.5.5.11" in text
    assert "DOWN" in text
    assert "[blackhole]" in text
    assert text.count("reader  127.5.5.1") == 2


def test_event_to_dict() -> None:
    assert Event("crashed", "i-1", 1.5, 2.5).to_dict() == {
        "name": "crashed",
        "instance": "i-1",
        "t": 1.5,
        "wall": 2.5,
    }
    assert str(Endpoint("127.1.1.1", 5432)) == "127.1.1.1:5432"

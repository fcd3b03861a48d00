"""``aws-wrapper-cluster``: run a local Aurora / RDS-like cluster from a shell.

``up`` starts a detached supervisor that owns the servers and proxies; every other command talks to it
through the state directory (``--state-dir``, ``$AWS_WRAPPER_CLUSTER_DIR``, default ``./.cluster``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import _state
from ._errors import ClusterError
from ._model import ClusterStatus
from ._proc import log_tail

UP_TIMEOUT = 180.0


def _parser() -> argparse.ArgumentParser:
    state_help = "state directory (default: $AWS_WRAPPER_CLUSTER_DIR or ./.cluster)"
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", default=argparse.SUPPRESS, help=state_help)  # also after the command
    parser = argparse.ArgumentParser(
        prog="aws-wrapper-cluster",
        description="A local Aurora / RDS-like cluster on real PostgreSQL or MariaDB servers, with fault injection.",
    )
    parser.add_argument("--state-dir", default=None, help=state_help)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = sub.add_parser("up", parents=[common], help="start a cluster and its supervisor")
    up.add_argument("--engine", default="pg", help="pg (PostgreSQL) or mysql (MariaDB); default pg")
    up.add_argument("--instances", type=int, default=3, help="number of instances (default 3)")
    up.add_argument("--flavour", "--flavor", default="aurora", choices=["aurora", "rds", "multi-az", "plain"])
    up.add_argument("--synchronous", action="store_true", help="synchronous replication")
    up.add_argument(
        "--retarget-delay", type=float, default=0.0, help="seconds the endpoints lag a topology change"
    )
    up.add_argument(
        "--instance-ids", choices=["address", "name"], help="topology ids: proxy addresses or names"
    )
    up.add_argument(
        "--cluster-name", default="mydb", help="cluster id in the RDS-shaped names (default mydb)"
    )
    up.add_argument(
        "--work-dir", help="where the data directories go (default: a new directory in /dev/shm or tmp)"
    )
    up.add_argument(
        "--iam",
        action="store_true",
        help="IAM mode: IAM database users whose RDS auth tokens the servers verify (needs root, libpam-python)",
    )
    up.add_argument(
        "--iam-user", action="append", default=[], help="IAM database user (repeatable; default iam_user)"
    )
    up.add_argument("--iam-region", help="region tokens must be signed for (default: the domain's)")
    up.add_argument("--iam-moto-url", help="moto server whose STS credentials sign valid tokens too")
    for name, text in (
        ("down", "stop the cluster and remove everything"),
        ("add", "add a reader instance"),
        ("events", "print the recorded events as JSON lines"),
    ):
        sub.add_parser(name, parents=[common], help=text)
    status = sub.add_parser("status", parents=[common], help="print endpoints and instances")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    for name, text, optional in (
        ("failover", "clean failover to INSTANCE (default: the most advanced replica)", True),
        ("crash", "SIGKILL INSTANCE (default: the writer) with all its backends", True),
        ("promote", "promote INSTANCE (default: the most advanced replica)", True),
        ("restart", "restart INSTANCE (default: the writer)", True),
        ("stop", "cleanly stop INSTANCE", False),
        ("blackhole", "blackhole INSTANCE's proxy (default: every instance)", True),
        ("heal", "heal INSTANCE's proxy (default: every proxy)", True),
        ("remove", "remove reader INSTANCE", False),
    ):
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument(
            "instance", nargs="?" if optional else None, help="instance id, dns name, address or index"
        )
    latency = sub.add_parser("latency", parents=[common], help="delay every chunk through INSTANCE's proxy")
    latency.add_argument("instance")
    latency.add_argument("seconds", type=float)
    facts = sub.add_parser(
        "facts", parents=[common], help="make the topology facts lie (no options: the truth)"
    )
    facts.add_argument("--writer", help="instance id to report as the writer")
    facts.add_argument("--hide", action="append", default=[], help="instance id to leave out (repeatable)")
    run = sub.add_parser("run", parents=[common], help="run CMD with the cluster's environment and dns names")
    run.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    return parser


def main(argv: list[str] | None = None) -> int:
    ns = _parser().parse_args(argv)
    directory = _state.state_dir(ns.state_dir)
    try:
        if ns.command == "up":
            return _up(ns, directory)
        if ns.command == "down":
            return _down(directory)
        if ns.command == "run":
            return _run(ns, directory)
        return _command(ns, directory)
    except ClusterError as exc:
        print(f"aws-wrapper-cluster: {exc}", file=sys.stderr)
        return 1


def _live_state(directory: Path) -> dict[str, Any]:
    state = _state.read_state(directory)
    if state is None:
        raise ClusterError(f"no cluster in {str(directory)!r} (run 'aws-wrapper-cluster up' first)")
    if not _state.supervisor_alive(state):
        raise ClusterError(
            f"the cluster in {str(directory)!r} is gone (supervisor pid {state.get('pid')!r} exited); "
            "run 'aws-wrapper-cluster down' to clean up"
        )
    return state


def up_config(ns: argparse.Namespace) -> dict[str, Any]:
    """The ``LocalCluster`` keywords of ``up``'s arguments (sent to the supervisor as JSON)."""
    config: dict[str, Any] = {
        "engine": ns.engine,
        "instances": ns.instances,
        "flavour": ns.flavour,
        "synchronous": ns.synchronous,
        "retarget_delay": ns.retarget_delay,
        "instance_ids": ns.instance_ids,
        "cluster_name": ns.cluster_name,
    }
    if ns.work_dir:
        config["work_dir"] = str(Path(ns.work_dir).absolute())
    if ns.iam or ns.iam_user or ns.iam_region or ns.iam_moto_url:
        iam: dict[str, Any] = {}
        if ns.iam_user:
            iam["users"] = list(ns.iam_user)
        if ns.iam_region:
            iam["region"] = ns.iam_region
        if ns.iam_moto_url:
            iam["moto_url"] = ns.iam_moto_url
        config["iam"] = iam or True
    return config


def _up(ns: argparse.Namespace, directory: Path) -> int:
    state = _state.read_state(directory)
    if state is not None:
        if _state.supervisor_alive(state):
            raise ClusterError(f"a cluster is already running in {str(directory)!r}; 'down' it first")
        _state.remove_state(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = up_config(ns)
    log_path = directory / _state.LOG_FILE
    argv = [sys.executable, "-m", "aws_wrapper.testing._supervisor", "--state-dir", str(directory)]
    argv += ["--config", json.dumps(config)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + UP_TIMEOUT
    while True:
        state = _state.read_state(directory)
        if state is not None and state.get("pid") == proc.pid and (state.get("ready") or state.get("error")):
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)
            state = {"error": f"the supervisor exited with code {proc.returncode}"}
            break
        time.sleep(0.05)
    if not state.get("ready"):
        _state.remove_state(directory, keep_log=True)
        print(log_tail(log_path, 30), file=sys.stderr)
        raise ClusterError(f"cluster start failed: {state.get('error')} (log: {log_path})")
    print(ClusterStatus.from_dict(state["status"]).render())
    env = dict(state.get("env") or {})
    if env.get("AWS_WRAPPER_CLUSTER_IAM_USERS"):
        print(
            f"IAM mode: users {env['AWS_WRAPPER_CLUSTER_IAM_USERS']}, tokens signed for region "
            f"{env.get('AWS_WRAPPER_CLUSTER_IAM_REGION')} with the fake key 'testing' (or moto's STS keys)"
        )
    print(f"state dir {directory} (supervisor pid {proc.pid})")
    return 0


def _down(directory: Path) -> int:
    state = _state.read_state(directory)
    if state is None:
        print(f"no cluster in {directory}")
        return 0
    pid = state.get("pid")
    if _state.supervisor_alive(state):
        assert isinstance(pid, int)
        try:
            _state.request(str(state.get("socket") or _state.socket_path(directory)), "down", timeout=120)
        except ClusterError as exc:
            print(f"aws-wrapper-cluster: {exc}; terminating the supervisor", file=sys.stderr)
            os.kill(pid, signal.SIGTERM)
        if not _state.wait_gone(pid, 60):
            os.kill(pid, signal.SIGKILL)
            _state.wait_gone(pid, 10)
    _state.remove_state(directory)
    print("cluster stopped")
    return 0


def _command(ns: argparse.Namespace, directory: Path) -> int:
    state = _live_state(directory)
    op = ns.command
    args: dict[str, Any] = {}
    if hasattr(ns, "instance"):
        args["instance"] = ns.instance
    if op == "latency":
        args["seconds"] = ns.seconds
    if op == "facts":
        args = {"writer": ns.writer, "hidden": ns.hide}
    reply = _state.request(str(state["socket"]), "status" if op == "status" else op, args)
    if op == "events":
        for event in reply["result"]:
            print(json.dumps(event))
        return 0
    if op == "status" and ns.json:
        print(json.dumps(reply["status"], indent=2))
        return 0
    if reply.get("result") is not None and op != "status":
        print(f"{op}: {reply['result']}")
    print(ClusterStatus.from_dict(reply["status"]).render())
    return 0


def _run(ns: argparse.Namespace, directory: Path) -> int:
    cmd = list(ns.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise ClusterError("run needs a command: aws-wrapper-cluster run -- CMD [ARGS...]")
    state = _live_state(directory)
    env = {**os.environ, **{str(k): str(v) for k, v in dict(state.get("env") or {}).items()}}
    hosts = env.get("AWS_WRAPPER_CLUSTER_HOSTS_FILE")
    from ._dns import namespace_available, namespace_command

    reason = namespace_available()
    if hosts and reason is None:
        cmd = namespace_command(Path(hosts), cmd)
    elif hosts:
        print(f"aws-wrapper-cluster: running without the cluster's dns names: {reason}", file=sys.stderr)
    try:
        return subprocess.call(cmd, env=env)
    except OSError as exc:
        raise ClusterError(f"cannot run {cmd[0]!r}: {exc}") from exc


if __name__ == "__main__":
    sys.exit(main())

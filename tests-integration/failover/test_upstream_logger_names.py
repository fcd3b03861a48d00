"""The seed's logging.conf example on a real failover: ``[logger_failover] level=DEBUG
qualname=aws_advanced_python_wrapper.failover_plugin`` loaded with ``logging.config.fileConfig`` after the wrapper was
imported (so ``disable_existing_loggers`` disables our own loggers), then the writer of the local PostgreSQL
cluster crashes and a replica is promoted: the failover plugin's records arrive through upstream's logger name,
each exactly once, also when our own name is configured with the same handler."""

from __future__ import annotations

import logging
import logging.config
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aws_wrapper.core import FailoverSuccessError
from aws_wrapper.failover import FailoverPlugin

from .conftest import Db
from .test_failover import lose_writer

pytestmark = [pytest.mark.integration, pytest.mark.pg_cluster(synchronous=True)]

UPSTREAM = "aws_advanced_python_wrapper.failover_plugin"
LEAF = "aws_wrapper.failover.failover_plugin"

#: The seed's example (its file 000), with a file handler.
SEED_CONF = """\
[loggers]
keys=root,failover{extra_keys}

[handlers]
keys=fileHandler

[formatters]
keys=simpleFormatter

[logger_root]
level=WARNING
handlers=

[logger_failover]
level=DEBUG
handlers=fileHandler
qualname=aws_advanced_python_wrapper.failover_plugin
{extra_sections}
[handler_fileHandler]
class=FileHandler
level=DEBUG
formatter=simpleFormatter
args=('%(logfile)s', 'w')

[formatter_simpleFormatter]
format=%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s
"""

#: Our own package logger configured as well, with the same handler: a record reaches it twice, it writes once.
OURS_TOO = """
[logger_ours]
level=DEBUG
handlers=fileHandler
qualname=aws_wrapper
"""

_State = tuple[int, bool, bool, list[logging.Handler], list[Any]]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """fileConfig reconfigures every logger of the process (levels, handlers, ``disabled``): undo it all."""
    manager = logging.Logger.manager
    root = logging.getLogger()
    saved: dict[str, _State] = {
        name: (lg.level, lg.propagate, lg.disabled, list(lg.handlers), list(lg.filters))
        for name, lg in list(manager.loggerDict.items())
        if isinstance(lg, logging.Logger)
    }
    root_state = (root.level, list(root.handlers), list(root.filters))
    yield
    for name, lg in list(manager.loggerDict.items()):
        if isinstance(lg, logging.Logger):
            level, propagate, disabled, handlers, filters = saved.get(
                name, (logging.NOTSET, True, False, [], [])
            )
            for handler in lg.handlers:
                if handler not in handlers:
                    handler.close()
            lg.handlers[:] = handlers
            lg.filters[:] = filters
            lg.propagate = propagate
            lg.disabled = disabled
            lg.setLevel(level)
    root.handlers[:] = root_state[1]
    root.filters[:] = root_state[2]
    root.setLevel(root_state[0])


@pytest.mark.parametrize(
    ("configured", "mode"),
    [("seed", "strict_writer"), ("seed", "reader_or_writer"), ("both-names", "strict_writer")],
    ids=["seed", "seed-reader-refused", "both-names"],
)
def test_seed_logging_conf_receives_the_failover_records_once(
    pg: Db, tmp_path: Path, configured: str, mode: str
) -> None:
    """``seed-reader-refused``: a reader failover whose preferred candidate refuses connections, so that the
    failover plugin's DEBUG records (a failed attempt) are among what the file receives."""
    leaf = logging.getLogger(LEAF)
    assert leaf.name == LEAF  # the wrapper and its failover plugin are imported before the configuration
    conf = tmp_path / "logging.conf"
    extra = configured == "both-names"
    conf.write_text(
        SEED_CONF.format(
            extra_keys=",ours" if extra else "",
            extra_sections=OURS_TOO if extra else "",
        )
    )
    log = tmp_path / "failover.log"
    logging.config.fileConfig(conf, defaults={"logfile": str(log)})
    # disable_existing_loggers (True by default) disabled our leaf, unless our own package logger is named too
    assert leaf.disabled is (not extra)
    assert leaf.isEnabledFor(logging.DEBUG)
    file_handler = logging.getLogger(UPSTREAM).handlers[0]
    assert isinstance(file_handler, logging.FileHandler)
    if extra:
        assert logging.getLogger("aws_wrapper").handlers == [file_handler]
    # every record the file handler is given (kept alive, so that their ids stay unique)
    handled: list[logging.LogRecord] = []

    def keep(record: logging.LogRecord) -> bool:
        handled.append(record)
        return True

    file_handler.addFilter(keep)

    conn = pg.connect(failover_mode=mode)
    cur = conn.cursor()
    cur.execute("SELECT 1")
    cur.fetchall()
    old, new = lose_writer(pg, "crash")
    refused = [pg.cluster.proxy(r) for r in pg.cluster.readers] if mode == "reader_or_writer" else []
    for proxy in refused:
        proxy.refuse()
    try:
        with pytest.raises(FailoverSuccessError):
            cur.execute("SELECT 1")
    finally:
        for proxy in refused:
            proxy.heal()
    cur.execute("SELECT 1")
    cur.fetchall()
    assert pg.instance(conn) == new != old
    plugin = conn.plugin(FailoverPlugin)
    assert plugin is not None
    assert plugin.failover_count == 1
    conn.close()
    file_handler.flush()

    records = _records(log.read_text())
    print(f"\n{configured}: {len(records)} record(s) in {log.name}:\n" + "\n".join(records))
    started = [r for r in records if re.search(rf" INFO failover \({mode}\) started: ", r)]
    done = [r for r in records if re.search(r" INFO failover done in [0-9.]+ s: now on \S+ \(writer\)$", r)]
    assert len(started) == 1, records
    assert len(done) == 1, records
    assert len({id(r) for r in handled}) == len(handled) == len(records)  # no record handled twice
    failover_records = [r for r in records if " aws_wrapper.failover " in r]
    assert started[0] in failover_records
    assert done[0] in failover_records
    if not extra:  # upstream's failover_plugin logger receives the failover plugin's records, no one else's
        assert failover_records == records
    if refused:  # the refused candidates' attempts, at DEBUG
        attempts = [r for r in records if re.search(r" DEBUG failover attempt to \S+ failed: ", r)]
        assert attempts, records


_STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


def _records(text: str) -> list[str]:
    """The records of the log file (a message may span lines: an error text often does)."""
    records: list[str] = []
    for line in text.splitlines():
        if _STAMP.match(line) or not records:
            records.append(line)
        else:
            records[-1] += "\n" + line
    return records

"""Nothing acknowledged is lost, in asyncio: 8 tasks on one event loop commit numbered rows through async wrapper
connections while the writer is SIGKILLed 5 times in a row (synchronous replication, as in the sync test)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from aws_wrapper.core import FailoverFailedError, FailoverSuccessError, TransactionResolutionUnknownError
from aws_wrapper.testing import LocalCluster

from .conftest import AsyncDb, Heartbeat

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TASKS = 8
CRASHES = 5


@dataclass
class Ledger:
    acknowledged: list[int] = field(default_factory=list)
    failed_clean: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)
    undocumented: list[BaseException] = field(default_factory=list)
    failovers: int = 0


async def worker(db: AsyncDb, number: int, ledger: Ledger, stop: asyncio.Event) -> None:
    try:
        conn = await db.connect(plugins="aurora_connection_tracker,failover", autocommit=False)
    except Exception as exc:  # pragma: no cover - reported by the test
        ledger.undocumented.append(exc)
        return
    cur = conn.cursor()
    seq = 0
    while not stop.is_set():
        seq += 1
        try:
            await cur.execute("INSERT INTO aledger (worker, seq, note) VALUES (%s, %s, 'a')", (number, seq))
            await cur.execute("UPDATE aledger SET note = 'b' WHERE worker = %s AND seq = %s", (number, seq))
            await conn.commit()
        except TransactionResolutionUnknownError:
            ledger.unknown.append(seq)
            ledger.failovers += 1
        except FailoverSuccessError:
            ledger.failed_clean.append(seq)
            ledger.failovers += 1
        except FailoverFailedError as exc:
            ledger.undocumented.append(exc)
            return
        except Exception as exc:
            ledger.undocumented.append(exc)
            return
        else:
            ledger.acknowledged.append(seq)
        await asyncio.sleep(0.002)
    await conn.close()


@pytest.mark.parametrize("engine", ["pg", "mysql"])
def test_nothing_acknowledged_is_lost_in_asyncio(engine: str, local_cluster: Any) -> None:
    cluster: LocalCluster = local_cluster(engine, instances=3, synchronous=True)
    db = AsyncDb(engine, cluster)
    db.create_table("aledger")
    db.admin("CREATE INDEX aledger_key ON aledger (worker, seq)")  # not unique: duplicates must stay visible
    ledgers = [Ledger() for _ in range(TASKS)]

    def crashes() -> None:
        for _ in range(CRASHES):
            time.sleep(0.8)
            old = cluster.crash()
            cluster.promote()
            time.sleep(0.5)
            cluster.restart(old)
        time.sleep(0.8)

    async def main() -> Heartbeat:
        stop = asyncio.Event()
        beat = Heartbeat().start()
        tasks = [asyncio.create_task(worker(db, i, ledgers[i], stop)) for i in range(TASKS)]
        try:
            await asyncio.get_running_loop().run_in_executor(None, crashes)
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
            await beat.stop()
            await db.close_all()
        return beat

    beat = asyncio.run(main())
    rows = db.admin("SELECT worker, seq, note FROM aledger")
    present = Counter((int(w), int(s)) for w, s, _ in rows)
    notes = {(int(w), int(s)): n for w, s, n in rows}
    acknowledged = {(i, s) for i, led in enumerate(ledgers) for s in led.acknowledged}
    unknown = {(i, s) for i, led in enumerate(ledgers) for s in led.unknown}
    failed_clean = {(i, s) for i, led in enumerate(ledgers) for s in led.failed_clean}
    undocumented = [e for led in ledgers for e in led.undocumented]
    print(
        f"\n{engine} asyncio: {CRASHES} writer crashes, {TASKS} tasks: {len(acknowledged)} commits acknowledged, "
        f"{len(failed_clean)} failed with FailoverSuccessError, {len(unknown)} with "
        f"TransactionResolutionUnknownError ({len(unknown & set(present))} of those committed after all), "
        f"{len(undocumented)} other errors; {len(rows)} rows; {sum(led.failovers for led in ledgers)} failovers; "
        f"heartbeat worst gap {beat.worst * 1000:.1f} ms over {beat.beats} beats"
    )
    assert undocumented == [], undocumented[:3]
    assert len(acknowledged) > 100
    assert sum(led.failovers for led in ledgers) >= CRASHES
    assert acknowledged - set(present) == set()
    assert [key for key, count in present.items() if count != 1] == []
    assert all(notes[key] == "b" for key in acknowledged)
    assert set(present) - acknowledged - unknown == set()
    assert not (failed_clean & set(present))

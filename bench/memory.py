"""Memory of a deployed Knock process holding a 1M-entry block-list.

    python -m bench.memory                 # 1,000,000 entries
    python -m bench.memory --entries 100000
    python -m bench.memory --without-keys  # the first start after the upgrade to stored keys

The entries (the same generated handles as `python -m bench.blocklist`) are written straight into
a fresh SQLite database, as if moderators had added them; then one `uvicorn mknock:app` process
starts on it against a throwaway Synapse, loads the block-list like any start, and its VmRSS and
VmHWM are read from /proc once it has said so and answers /readyz. Then the block-list version is
bumped as another process's change would bump it, and `GET /` is timed every 50 ms until this
process has reloaded: the index is rebuilt in a thread, so it should keep answering. VmHWM is read
again after the reload, which builds the new index beside the old one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.blocklist import load_generator
from bench.processes import base_env, serve, status_kib
from knock.store import Store
from knock.store.blocklist import VERSION_KEY, fold_columns
from knock_testing.synapse import Sandbox

LOADED = re.compile(r"Loaded the block-list: ([1-9]\d*) entries")


def write_entries(path: Path, patterns: list[str], *, keyed: bool = True) -> None:
    """Create the schema, then add every pattern as a moderator's entry: with its fold keys
    as Knock stores them, or (not `keyed`) as a Knock older than the stored keys did."""

    async def migrate() -> None:
        store = await Store.open(f"sqlite:///{path}")
        await store.close()

    asyncio.run(migrate())
    now = time.time()
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT OR IGNORE INTO blocklist_entries "
            "(pattern, allow, origin, hashed, source, reason, added_at, "
            "name_key, fuzzy_key, folded) "
            "VALUES (?, 0, 'moderator', 0, 'api', NULL, ?, ?, ?, ?)",
            (
                (pattern, now, *(fold_columns(pattern, False) if keyed else (None,) * 3))
                for pattern in patterns
            ),
        )
        db.execute(
            "INSERT INTO state_values (key, value, updated_at) VALUES (?, '1', ?)",
            (VERSION_KEY, now),
        )


def answers_during_reload(url: str, log: Path, database: Path) -> dict[str, float]:
    """Change the block-list version as another process would, then time `GET /` every 50 ms
    until this process has reloaded: does it keep answering while it rebuilds its index?"""
    with sqlite3.connect(database) as db:
        db.execute(
            "UPDATE state_values SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
            "WHERE key = ?",
            (VERSION_KEY,),
        )
    waits: list[float] = []
    start = time.perf_counter()
    while len(LOADED.findall(log.read_text())) < 2:
        assert time.perf_counter() - start < 600, log.read_text()[-2000:]
        sent = time.perf_counter()
        httpx.get(url + "/", timeout=600).raise_for_status()
        waits.append(time.perf_counter() - sent)
        time.sleep(0.05)
    return {
        "reload_s": round(time.perf_counter() - start, 1),
        "get_during_reload_p50_ms": round(statistics.median(waits) * 1000, 1),
        "get_during_reload_max_ms": round(max(waits) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument(
        "--without-keys",
        action="store_true",
        help="entries stored without fold keys, as before they were: the first start after "
        "the upgrade",
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="knock-memory-") as tmp,
        Sandbox(Path(tmp) / "hs") as hs,
    ):
        work = Path(tmp)
        bot = hs.register("knockbot")
        room = hs.create_room(bot)
        database = work / "knock.db"
        patterns = load_generator().blocked_ids(args.entries)
        write_entries(database, patterns, keyed=not args.without_keys)
        del patterns
        env = base_env() | {
            "NEW_ROOM_ID": room,
            "MATRIX_BASE_URL": hs.base_url,
            "MATRIX_ACCESS_TOKEN": bot.access_token,
            "DATABASE_URL": f"sqlite:///{database}",
            "TOKENS_FILE": str(work / "tokens.json"),
            "BLOCKLIST_FILE": str(work / "blocked.txt"),
            "ALLOWLIST_FILE": str(work / "allowed.txt"),
            "LOG_LEVEL": "INFO",
        }
        start = time.perf_counter()
        knock = serve("knock", "mknock:app", env, work, "/readyz")
        try:
            while not (found := LOADED.search(knock.log.read_text())):
                assert time.perf_counter() - start < 600, knock.log.read_text()[-2000:]
                time.sleep(0.5)
            ready_s = time.perf_counter() - start
            memory = status_kib(knock.pid)
            reload = answers_during_reload(knock.url, knock.log, database)
            # The old index answers while the new one is built beside it: the peak of a run.
            after_reload = status_kib(knock.pid)
        finally:
            knock.stop()
    result = {
        "entries": int(found.group(1)),
        "ready_after_s": round(ready_s, 1),
        "vm_rss_mib": round(memory["VmRSS"] / 1024, 1),
        "vm_hwm_mib": round(memory["VmHWM"] / 1024, 1),
        **reload,
        "vm_hwm_after_reload_mib": round(after_reload["VmHWM"] / 1024, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

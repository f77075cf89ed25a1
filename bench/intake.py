"""`python -m bench.intake`: Knock's webhook intake as a deployed process, against two references.

A Knock process (`uvicorn mknock:app`, configured by environment variables, on a throwaway
Synapse), a bare FastAPI process (`uvicorn bench.bare:app`: read the body, parse the JSON,
answer 202) and the bare route plus one committed INSERT of the body (`uvicorn
bench.bare_insert:app`, on a fresh database of the engine measured), started with the same
uvicorn options, one process each, take signed Tally deliveries to `POST /invite_from_form`,
each with its own submission id and Matrix ID. For each database (SQLite in a temporary
directory with its default durability; a throwaway PostgreSQL cluster with fsync on):

1. Throughput: `wrk` at each connection count, bare route, bare + INSERT, then Knock. Every body
   is sent at most once (bench/intake.lua); each wrk thread sends for --seconds, then waits for
   every answer, so afterwards the knocks in the database are matched one for one with the 202s
   wrk saw (by knock id), and each must have been queued for an invite; bare + INSERT's rows
   are matched with its 202s the same way. Requests/s counts the answers within the sending
   window.
2. Latency: an open-loop generator (bench/openloop.c, compiled here with cc) sends at each fixed
   rate (--rates: 50, 200 and 700 requests/s) to each server in turn; latency runs from each
   request's due time, so a server that falls behind is charged for it, and a request not
   answered within --timeout seconds of its due time counts as timed out. `--rates half`: half
   the bare route's best throughput, and half Knock's (the figures kept before issue 19).
3. Memory: the Knock process's VmRSS and VmHWM (/proc/<pid>/status) after each throughput run.
4. Doors (--doors N): `wrk` at each connection count against Knock with the default door alone,
   then with N doors (the default door and N-1 more from a DOORS_FILE, each its own room on the
   same homeserver), in --door-rounds rounds, each round starting with the other; the N-door
   runs' deliveries take turns at the doors' webhooks, and each knock must be stored at the door
   whose webhook took it. --doors-only runs these alone (no references, no latency).
5. Profile (--profile FILE): one more wrk run against Knock at the most connections, sampled by
   py-spy (bench/profile.py); its raw stacks go to FILE and their summary into the report.

The report prints, per database, issue 19's table (each load: bare route, bare + INSERT, Knock,
and Knock's ratios to both), then the detailed tables; --json writes every figure.

Each Knock and bare + INSERT run gets a fresh process on a fresh database, so no earlier run's
invite jobs are pending, and no Knock runs while a reference is measured. The CPU each process
used is recorded, with the rest of the machine's: a run during which other work used more than
QUIET_CORES is run once more (the quieter of the two is kept).

Admission admits everything: MAX_REQUESTS_PER_WINDOW and JOIN_WAVE_THRESHOLD are set out of reach
(per-user, per-server and per-form limits cannot trip: every knock is for a new person, and the
per-address limit applies to direct callers only). The worker runs as deployed and tries to invite
each person (unknown to the homeserver, so rejected after a profile lookup) with
WORKER_CONCURRENCY=--worker-concurrency and REQUEST_DELAY=--request-delay.

    .venv/bin/python -m bench.intake            # both databases, 100 and 1000 connections
    .venv/bin/python -m bench.intake --engines sqlite --connections 100 --seconds 5
    .venv/bin/python -m bench.intake --engines sqlite --no-throughput --no-latency \\
        --connections 1000 --profile knock.prof   # a profile alone
    .venv/bin/python -m bench.intake --doors 4 --doors-only   # 4 doors against one
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import math
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text

from bench import intake_report, profile
from bench.load import (
    SECRET,
    Deliveries,
    build_openloop,
    door_sent_to,
    run_openloop,
    run_wrk,
)
from bench.processes import (
    QUIET_CORES,
    CpuWatch,
    Pids,
    Server,
    base_env,
    children_of,
    matching,
    serve,
    status_kib,
    wait_quiet,
)
from knock.core.knocks import DEFAULT_DOOR
from knock.store.engine import make_engine
from knock_testing.postgres import PostgresSandbox
from knock_testing.synapse import Sandbox

SETTLE = 1.0  # seconds between Knock answering /readyz and the first request
UNREACHABLE = "1000000000"  # a window or threshold no run reaches
ATTEMPTS = 2  # a run disturbed by other work on the machine is tried once more
WAIT_BUDGET = 180.0  # seconds the whole bench may spend waiting for a quiet machine
BARE_BODIES = 20_000  # the bare route may reuse its bodies: it stores nothing
# Sizes a run's bodies (1.5x this many per second of sending) when no bare route run of the
# same connections was measured (--doors-only, a profile alone): above the bare route's own rate.
BODY_RATE = 6000.0
RATES = [50.0, 200.0, 700.0]  # the open-loop rates (knocks/s) of issue 19's table
HALF = "half"  # --rates half: half of each server's best wrk throughput, the earlier default
SERVERS = ("bare", "insert", "knock")  # the bare route, the bare route + INSERT, Knock


# The database check.


@dataclass
class Tally:
    """A run's knocks in the database, matched against the 202s the load generator saw."""

    stored: int
    queued: int  # knocks whose history says `queued`
    answered_202: int
    ids_202: int
    missing: int  # answered 202, not in the database
    unexpected: int  # in the database, never answered 202
    states: dict[str, int] = field(default_factory=dict)  # when the Knock process stopped

    @property
    def ok(self) -> bool:
        return (
            self.stored == self.answered_202 == self.ids_202 == self.queued
            and self.missing == self.unexpected == 0
        )


def tally(database_url: str, tag: str, answered_202: int, ids: list[str]) -> Tally:
    """Compare the run's knocks in the database with the knock ids answered 202."""
    pattern = {"p": f"tally:{tag}-%"}

    async def read() -> tuple[set[str], int, dict[str, int]]:
        engine = make_engine(database_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text("SELECT knock_id FROM knocks WHERE submission_key LIKE :p"), pattern
                )
                stored = {row[0] for row in rows}
                queued = await conn.execute(
                    text(
                        "SELECT count(DISTINCT e.knock_id) FROM knock_events e"
                        " JOIN knocks k ON k.knock_id = e.knock_id"
                        " WHERE e.event = 'queued' AND k.submission_key LIKE :p"
                    ),
                    pattern,
                )
                states = await conn.execute(
                    text(
                        "SELECT state, count(*) FROM knocks WHERE submission_key LIKE :p"
                        " GROUP BY state"
                    ),
                    pattern,
                )
                by_state = {str(state): int(n) for state, n in states}
                return stored, int(queued.scalar_one()), by_state
        finally:
            await engine.dispose()

    stored, queued, states = asyncio.run(read())
    seen = set(ids)
    return Tally(
        stored=len(stored),
        queued=queued,
        answered_202=answered_202,
        ids_202=len(ids),
        missing=len(seen - stored),
        unexpected=len(stored - seen),
        states=states,
    )


def rows_tally(database_url: str, tag: str, answered_202: int, ids: list[str]) -> Tally:
    """Compare the rows the bare + INSERT route stored in a run with the row ids answered 202."""
    query = "SELECT id FROM deliveries WHERE submission LIKE {}"
    pattern = f"{tag}-%"
    if database_url.startswith("sqlite"):
        path = database_url.partition("://")[2].removeprefix("/")
        with closing(sqlite3.connect(path)) as conn:
            rows = list(conn.execute(query.format("?"), (pattern,)))
    else:

        async def read() -> list[Any]:
            conn = await asyncpg.connect(database_url)
            try:
                return list(await conn.fetch(query.format("$1"), pattern))
            finally:
                await conn.close()

        rows = asyncio.run(read())
    stored = {str(row[0]) for row in rows}
    seen = set(ids)
    return Tally(
        stored=len(stored),
        queued=len(stored),  # no queue here: a stored row is the whole of the work
        answered_202=answered_202,
        ids_202=len(ids),
        missing=len(seen - stored),
        unexpected=len(stored - seen),
        states={"stored": len(stored)},
    )


@dataclass
class Landed:
    """Where a run's knocks were stored: each knock's door against the webhook that took it."""

    by_door: dict[str, int]  # knocks stored at each door
    misplaced: int  # stored at another door than the one whose webhook took the delivery

    @property
    def ok(self) -> bool:
        return self.misplaced == 0


def landed(database_url: str, tag: str) -> Landed:
    """Read the door of each of the run's knocks (deliveries written with `doors`)."""

    async def read() -> list[tuple[str, str]]:
        engine = make_engine(database_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text("SELECT submission_key, door FROM knocks WHERE submission_key LIKE :p"),
                    {"p": f"tally:{tag}-%"},
                )
                return [(str(key), str(door)) for key, door in rows]
        finally:
            await engine.dispose()

    rows = asyncio.run(read())
    return Landed(
        by_door=dict(Counter(door for _, door in rows)),
        misplaced=sum(1 for key, door in rows if door_sent_to(key, tag) != door),
    )


# The bench's parts.


@dataclass
class Homeserver:
    hs: Sandbox
    token: str
    room: str
    pids: Pids
    door_rooms: dict[str, str] = field(default_factory=dict)  # --doors: each other door's room


@dataclass
class Engine:
    """A database engine: a fresh database per Knock process, and the engine's processes."""

    name: str
    new_database: Callable[[str], str]
    pids: Pids | None


@dataclass
class Bench:
    args: argparse.Namespace
    work: Path
    homeserver: Homeserver
    bare: Server | None  # None with --doors-only
    deliveries: Deliveries
    openloop: Path | None
    bare_bodies: Path
    tallies: list[Tally] = field(default_factory=list)
    landings: list[Landed] = field(default_factory=list)
    waited: float = 0.0

    def watch(self, server: Server, db_pids: Pids | None) -> CpuWatch:
        groups: dict[str, Pids] = {
            "server": lambda: [server.pid],
            "homeserver": self.homeserver.pids,
        }
        if db_pids is not None:
            groups["database"] = db_pids
        return CpuWatch(groups)

    def quiet(self) -> None:
        """Wait, within the bench's budget, for other work on the machine to calm down."""
        limit = min(20.0, WAIT_BUDGET - self.waited)
        if limit > 0:
            start = time.monotonic()
            busy = wait_quiet(limit)
            self.waited += time.monotonic() - start
            if busy >= QUIET_CORES:
                say(f"the machine is busy ({busy:.2f} cores); measuring anyway")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measured(bench: Bench, what: str, run: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
    """Run a measurement; if other work on the machine disturbed it, once more: keep the quieter."""
    attempts = []
    for n in range(ATTEMPTS):
        bench.quiet()
        say(f"{what} ...")
        result = run(n)
        attempts.append(result)
        other = result["cpu"]["other"]
        if other < QUIET_CORES or bench.waited >= WAIT_BUDGET:
            break
        say(f"{what}: other work used {other:.2f} cores during the run")
    best = min(attempts, key=lambda r: float(r["cpu"]["other"]))
    best["attempts"] = len(attempts)
    return best


def knock_env(
    work: Path, hs: Homeserver, database_url: str, args: argparse.Namespace
) -> dict[str, str]:
    """A deployment's environment: the sandbox homeserver, one database, admission open to all."""
    return base_env() | {
        "NEW_ROOM_ID": hs.room,
        "MATRIX_BASE_URL": hs.hs.base_url,
        "MATRIX_ACCESS_TOKEN": hs.token,
        "DATABASE_URL": database_url,
        "TOKENS_FILE": str(work / "tokens.json"),
        "BLOCKLIST_FILE": str(work / "blocked_users.txt"),
        "ALLOWLIST_FILE": str(work / "allowed_users.txt"),
        "TALLY_SIGNING_SECRET": SECRET,
        "MAX_REQUESTS_PER_WINDOW": UNREACHABLE,
        "JOIN_WAVE_THRESHOLD": UNREACHABLE,
        "WORKER_CONCURRENCY": str(args.worker_concurrency),
        "REQUEST_DELAY": args.request_delay,
    }


def door_names(count: int) -> tuple[str, ...]:
    """The default door and `count` - 1 more (--doors)."""
    return (DEFAULT_DOOR, *(f"door{n}" for n in range(2, count + 1)))


def write_doors_file(path: Path, rooms: dict[str, str]) -> Path:
    """A DOORS_FILE: one door per room, with every setting inherited from the environment."""
    path.write_text(
        "".join(f"[doors.{name}]\nroom = {json.dumps(room)}\n\n" for name, room in rooms.items())
    )
    return path


@contextmanager
def knock_process(
    bench: Bench, engine: Engine, tag: str, doors: Sequence[str] = ()
) -> Iterator[tuple[Server, str]]:
    """A fresh Knock process on a fresh database; with `doors` beyond the default one, a
    DOORS_FILE that adds them."""
    work = bench.work / tag
    work.mkdir()
    url = engine.new_database(tag)
    env = knock_env(work, bench.homeserver, url, bench.args)
    more = {door: bench.homeserver.door_rooms[door] for door in doors if door != DEFAULT_DOOR}
    if more:
        env["DOORS_FILE"] = str(write_doors_file(work / "doors.toml", more))
    knock = serve(f"knock-{tag}", "mknock:app", env, work, "/readyz")
    try:
        time.sleep(SETTLE)
        yield knock, url
    finally:
        knock.stop()


@contextmanager
def insert_process(bench: Bench, engine: Engine, tag: str) -> Iterator[tuple[Server, str]]:
    """A fresh bare + INSERT process (bench/bare_insert.py) on a fresh database of the engine."""
    work = bench.work / tag
    work.mkdir()
    url = engine.new_database(tag)
    env = base_env() | {"BENCH_DATABASE_URL": url}
    server = serve(f"insert-{tag}", "bench.bare_insert:app", env, work, "/docs")
    try:
        time.sleep(SETTLE)
        yield server, url
    finally:
        server.stop()


# Throughput.


def throughput(bench: Bench, engine: Engine, connections: int) -> dict[str, Any]:
    name = engine.name
    bare = measured(
        bench,
        f"{name}: wrk, bare route, {connections} connections",
        lambda _: bare_wrk(bench, connections),
    )
    insert = measured(
        bench,
        f"{name}: wrk, bare route + INSERT, {connections} connections",
        lambda n: insert_wrk(bench, engine, connections,
                             attempt_tag(f"{name}-c{connections}-insert", n), bare["rate"]),
    )  # fmt: skip
    knock = measured(
        bench,
        f"{name}: wrk, Knock, {connections} connections",
        lambda n: knock_wrk(bench, engine, connections, attempt_tag(f"{name}-c{connections}", n),
                            bare["rate"]),
    )  # fmt: skip
    say(
        f"{name}, {connections} connections: bare {bare['rate']:.0f}/s, bare + INSERT "
        f"{insert['rate']:.0f}/s, Knock {knock['rate']:.0f}/s"
    )
    return {"connections": connections, "bare": bare, "insert": insert, "knock": knock}


def attempt_tag(tag: str, attempt: int) -> str:
    return tag if attempt == 0 else f"{tag}-again{attempt}"


def bare_wrk(bench: Bench, connections: int) -> dict[str, Any]:
    args = bench.args
    assert bench.bare is not None
    watch = bench.watch(bench.bare, None)
    watch.start()
    result = run_wrk(
        bench.bare, bench.bare_bodies, args.seconds, connections, args.threads, once=False,
        outdir=bench.work / "wrk-bare",
    )  # fmt: skip
    watch.stop()
    result["cpu"] = watch.shares()
    result["cpu_seconds"] = dict(watch.used)
    return result


def body_count(bench: Bench, rate: float, connections: int) -> int:
    """Enough bodies for a server at 1.5x `rate` (the bare route's); a run that runs out says so."""
    return int(rate * bench.args.seconds * 1.5) + 10 * connections


def insert_wrk(
    bench: Bench, engine: Engine, connections: int, tag: str, bare_rate: float
) -> dict[str, Any]:
    """A wrk run against a fresh bare + INSERT process; its 202s are matched with its rows."""
    args = bench.args
    bodies = bench.deliveries.write(tag, body_count(bench, bare_rate, connections), args.threads)
    with insert_process(bench, engine, tag) as (server, url):
        watch = bench.watch(server, engine.pids)
        watch.start()
        result = run_wrk(
            server, bodies, args.seconds, connections, args.threads, once=True,
            outdir=bench.work / f"wrk-{tag}",
        )  # fmt: skip
        watch.stop()
    for path in bodies.parent.glob(f"{bodies.name}.*"):
        path.unlink()
    result["cpu"] = watch.shares()
    result["cpu_seconds"] = dict(watch.used)
    ids = result.pop("ids")
    result["tally"] = checked(bench, url, tag, result["statuses"].get("202", 0), ids, rows=True)
    return result


def knock_wrk(
    bench: Bench,
    engine: Engine,
    connections: int,
    tag: str,
    bare_rate: float,
    doors: Sequence[str] = (),
    profile_to: Path | None = None,
) -> dict[str, Any]:
    """A wrk run against a fresh Knock process; with `doors`, Knock has those doors and the
    deliveries take turns at their webhooks; with `profile_to`, py-spy samples the process for
    the sending window and writes its raw stacks there."""
    args = bench.args
    bodies = bench.deliveries.write(
        tag, body_count(bench, bare_rate, connections), args.threads, doors
    )
    with knock_process(bench, engine, tag, doors) as (knock, url):
        memory = {"start": status_kib(knock.pid)}
        spy = None
        if profile_to is not None:
            spy = profile.record(knock.pid, args.seconds, profile_to, args.profile_rate)
            threads = profile.thread_ticks(knock.pid)
        watch = bench.watch(knock, engine.pids)
        watch.start()
        result = run_wrk(
            knock, bodies, args.seconds, connections, args.threads, once=True,
            outdir=bench.work / f"wrk-{tag}",
        )  # fmt: skip
        watch.stop()
        memory["after"] = status_kib(knock.pid)
        if spy is not None:
            cores = profile.thread_cores(threads, profile.thread_ticks(knock.pid), watch.wall)
            result["thread_cores"] = cores
            profile.finish(spy)
    for path in bodies.parent.glob(f"{bodies.name}.*"):
        path.unlink()
    result["cpu"] = watch.shares()
    result["cpu_seconds"] = dict(watch.used)
    result["memory"] = memory
    result["tally"] = checked(bench, url, tag, result["statuses"].get("202", 0), result.pop("ids"))
    if doors:
        check = landed(url, tag)
        bench.landings.append(check)
        say(f"  {tag}: {'ok' if check.ok else 'MISPLACED'} {check}")
        result["landed"] = asdict(check)
    return result


def checked(
    bench: Bench, url: str, tag: str, answered_202: int, ids: list[str], rows: bool = False
) -> dict[str, Any]:
    """Match the 202s with the database: Knock's knocks, or (`rows`) the bare + INSERT rows."""
    check = (rows_tally if rows else tally)(url, tag, answered_202, ids)
    bench.tallies.append(check)
    say(f"  {tag}: {'ok' if check.ok else 'MISMATCH'} {check}")
    return asdict(check)


# Latency.


def fixed_rates(args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """(basis, rate) of the latency runs: --rates, or (--rates half) half of each server's best
    throughput."""
    if args.rates != HALF:
        return [("fixed", rate) for rate in args.rates]
    if not runs:
        return []
    bare_best = max(run["bare"]["rate"] for run in runs)
    knock_best = max(run["knock"]["rate"] for run in runs)
    rates = [("half the bare route's capacity", bare_best / 2)]
    if knock_best / 2 < bare_best / 2 * 0.9:
        rates.append(("half Knock's capacity", knock_best / 2))
    return rates


def latency(bench: Bench, engine: Engine, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rates = fixed_rates(bench.args, runs)
    found = []
    for n, (basis, rate) in enumerate(rates):
        what = f"{engine.name}: open loop at {rate:.0f}/s ({basis})"
        tag = f"{engine.name}-lat{n}"
        bare = measured(
            bench, f"{what}, bare route", partial(bare_open_loop, bench, f"{tag}-bare", rate)
        )
        insert = measured(
            bench,
            f"{what}, bare route + INSERT",
            partial(insert_open_loop, bench, engine, f"{tag}-insert", rate),
        )
        knock = measured(
            bench,
            f"{what}, Knock",
            partial(knock_open_loop, bench, engine, f"{tag}-knock", rate),
        )
        say(
            f"{engine.name}, {rate:.0f}/s: p99 bare {p99_ms(bare):.2f} ms, bare + INSERT "
            f"{p99_ms(insert):.2f} ms, Knock {p99_ms(knock):.2f} ms"
        )
        found.append({"basis": basis, "rate": rate, "bare": bare, "insert": insert, "knock": knock})
    return found


def p99_ms(result: dict[str, Any]) -> float:
    return float(result["latency_with_unsent"]["p99_us"]) / 1000


def bare_open_loop(bench: Bench, tag: str, rate: float, attempt: int) -> dict[str, Any]:
    assert bench.bare is not None
    return open_loop(bench, bench.bare, None, attempt_tag(tag, attempt), rate, ids=False)


def insert_open_loop(
    bench: Bench, engine: Engine, tag: str, rate: float, attempt: int
) -> dict[str, Any]:
    tag = attempt_tag(tag, attempt)
    with insert_process(bench, engine, tag) as (server, url):
        result = open_loop(bench, server, engine.pids, tag, rate)
    ids = result.pop("ids")
    result["tally"] = checked(bench, url, tag, result["status_202"], ids, rows=True)
    return result


def knock_open_loop(
    bench: Bench, engine: Engine, tag: str, rate: float, attempt: int
) -> dict[str, Any]:
    tag = attempt_tag(tag, attempt)
    with knock_process(bench, engine, tag) as (knock, url):
        result = open_loop(bench, knock, engine.pids, tag, rate)
    result["tally"] = checked(bench, url, tag, result["status_202"], result.pop("ids"))
    return result


def open_loop(
    bench: Bench, server: Server, db_pids: Pids | None, tag: str, rate: float, ids: bool = True
) -> dict[str, Any]:
    """One open-loop run; with `ids`, the 202s' ids are read back for the database check."""
    assert bench.openloop is not None
    args = bench.args
    bodies = bench.deliveries.write(tag, math.ceil(rate * args.latency_seconds) + 1)
    ids_file = bench.work / f"{tag}.ids" if ids else None
    watch = bench.watch(server, db_pids)
    watch.start()
    result = run_openloop(
        bench.openloop, server, bodies, rate, args.latency_seconds, ids_file, args.timeout
    )
    watch.stop()
    result["cpu"] = watch.shares()
    result["cpu_seconds"] = dict(watch.used)
    Path(f"{bodies}.0").unlink()
    return result


# A profile.


def profiled(bench: Bench, engine: Engine, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One more wrk run against Knock, at the most connections, sampled by py-spy (not part of
    the tables: sampling costs the process some time)."""
    args = bench.args
    connections = max(args.connections)
    rate = next(
        (run["bare"]["rate"] for run in runs if run["connections"] == connections), BODY_RATE
    )
    out = profile.output_for(args.profile, engine.name, len(args.engines))
    tag = f"{engine.name}-c{connections}-profiled"
    say(f"{engine.name}: wrk, Knock, {connections} connections, profiled by py-spy into {out} ...")
    result = knock_wrk(bench, engine, connections, tag, rate, profile_to=out)
    summary = profile.summarise(out, result.get("thread_cores"))
    say(profile.text(summary, 20))
    return {"connections": connections, "file": str(out), "knock": result, "summary": summary}


# Doors.


def doors_comparison(
    bench: Bench, engine: Engine, runs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Knock with one door against Knock with --doors doors, round by round at each connection
    count; each round starts with the configuration the previous round ended with."""
    args = bench.args
    one, many = door_names(1), door_names(args.doors)
    found = []
    for connections in args.connections:
        rate = next(
            (run["bare"]["rate"] for run in runs if run["connections"] == connections),
            BODY_RATE,
        )
        for n in range(1, args.door_rounds + 1):
            round_runs: dict[int, dict[str, Any]] = {}
            for doors in (one, many) if n % 2 else (many, one):
                tag = f"{engine.name}-c{connections}-r{n}-d{len(doors)}"
                round_runs[len(doors)] = measured(
                    bench,
                    f"{engine.name}: wrk, Knock with {len(doors)} door(s), {connections} "
                    f"connections, round {n}",
                    partial(doors_wrk, bench, engine, connections, tag, rate, doors),
                )
            single, several = round_runs[1], round_runs[args.doors]
            say(
                f"{engine.name}, {connections} connections, round {n}: 1 door "
                f"{single['rate']:.0f}/s, {args.doors} doors {several['rate']:.0f}/s, ratio "
                f"{several['rate'] / single['rate']:.3f}"
            )
            found.append(
                {
                    "connections": connections,
                    "round": n,
                    "first": 1 if n % 2 else args.doors,
                    "one": single,
                    "many": several,
                }
            )
    return found


def doors_wrk(
    bench: Bench,
    engine: Engine,
    connections: int,
    tag: str,
    rate: float,
    doors: Sequence[str],
    attempt: int,
) -> dict[str, Any]:
    return knock_wrk(bench, engine, connections, attempt_tag(tag, attempt), rate, doors)


# Main.


def run_engine(bench: Bench, engine: Engine) -> dict[str, Any]:
    out: dict[str, Any] = {"engine": engine.name, "throughput": [], "latency": []}
    doors_only = bench.args.doors_only
    for connections in [] if bench.args.no_throughput or doors_only else bench.args.connections:
        out["throughput"].append(throughput(bench, engine, connections))
    if bench.openloop is not None:
        out["latency"] = latency(bench, engine, out["throughput"])
    if bench.args.doors:
        out["doors"] = doors_comparison(bench, engine, out["throughput"])
    if bench.args.profile is not None:
        out["profile"] = profiled(bench, engine, out["throughput"])
    return out


def one_engine(bench: Bench, name: str) -> dict[str, Any]:
    if name == "sqlite":
        directory = bench.work / "sqlite"
        directory.mkdir()
        engine = Engine(name, lambda tag: f"sqlite:///{directory / tag}.db", None)
        return run_engine(bench, engine)
    if name == "postgresql":
        with PostgresSandbox() as pg:
            postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
            engine = Engine(
                name, lambda tag: pg.create_database(tag.replace("-", "_")), children_of(postmaster)
            )
            return run_engine(bench, engine)
    raise SystemExit(f"unknown engine {name!r}: sqlite or postgresql")


@contextmanager
def homeserver(directory: Path, doors: Sequence[str] = ()) -> Iterator[Homeserver]:
    """The sandbox Synapse, the bot's room (the default door's) and a room for each of `doors`."""
    with Sandbox(directory) as hs:
        admin = hs.register("admin", admin=True)
        bot = hs.register("knockbot")
        hs.lift_rate_limits(admin, bot.user_id)
        room = hs.create_room(bot)
        door_rooms = {door: hs.create_room(bot, name=f"Knock bench {door}") for door in doors}
        yield Homeserver(hs, bot.access_token, room, matching(str(hs.config_path)), door_rooms)


def parse_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.intake",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--engines", type=parse_list, default=["sqlite", "postgresql"])
    parser.add_argument(
        "--connections", type=lambda v: [int(c) for c in parse_list(v)], default=[100, 1000]
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="sending time per wrk run")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--latency-seconds", type=float, default=10.0, help="sending time per open-loop run"
    )
    parser.add_argument("--no-latency", action="store_true", help="no open-loop runs")
    parser.add_argument(
        "--no-throughput", action="store_true", help="no wrk runs (open-loop runs, a profile)"
    )
    parser.add_argument(
        "--rates",
        type=parse_rates,
        default=RATES,
        help="the open-loop runs' fixed rates, requests/s (default: 50,200,700); 'half': half "
        "the bare route's best wrk throughput, and half Knock's",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="an open-loop request not answered this many seconds after it was due counts as "
        "timed out (default: 10)",
    )
    parser.add_argument("--worker-concurrency", type=int, default=1)
    parser.add_argument("--request-delay", default="0")
    parser.add_argument(
        "--doors",
        type=int,
        default=0,
        help="also compare Knock with this many doors (the default door and more from a "
        "DOORS_FILE, each its own room) against Knock with one, at each --connections",
    )
    parser.add_argument(
        "--door-rounds", type=int, default=3, help="rounds of the doors comparison (--doors)"
    )
    parser.add_argument(
        "--doors-only",
        action="store_true",
        help="only the doors comparison: no bare route, no latency runs",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="after the measurements, one more wrk run against Knock at the most --connections, "
        "sampled with py-spy: raw collapsed stacks into FILE (FILE.<engine> with more than one "
        "engine), and the top entries by own and total time in the report",
    )
    parser.add_argument(
        "--profile-rate", type=int, default=250, help="py-spy's samples per second (--profile)"
    )
    parser.add_argument("--json", type=Path, help="also write every figure here")
    return parser.parse_args(argv)


def parse_rates(value: str) -> list[float] | str:
    if value.strip() == HALF:
        return HALF
    return [float(rate) for rate in parse_list(value)]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.doors == 1 or args.doors < 0:
        raise SystemExit("--doors: at least 2 doors to compare with one (0: no comparison)")
    if args.door_rounds < 1:
        raise SystemExit("--door-rounds: at least 1")
    if args.doors_only and not args.doors:
        raise SystemExit("--doors-only needs --doors")
    if args.no_throughput and args.rates == HALF and not (args.doors_only or args.no_latency):
        raise SystemExit("--rates half needs the wrk runs (the capacities come from them)")
    if shutil.which("wrk") is None:
        raise SystemExit("bench.intake needs wrk (make wrk)")
    if args.profile is not None:
        profile.spy()  # says how to install py-spy when it is missing
    started = datetime.datetime.now(datetime.UTC)
    engines = []
    with tempfile.TemporaryDirectory(prefix="knock-bench-") as tmp:
        work = Path(tmp)
        openloop = None if args.no_latency or args.doors_only else build_openloop(work)
        deliveries = Deliveries(work)
        say("starting a throwaway Synapse ...")
        with homeserver(work / "hs", door_names(args.doors)[1:]) as hs:
            bare = None
            if not args.doors_only:
                bare = serve("bare", "bench.bare:app", base_env(), work, "/docs")
            try:
                bench = Bench(
                    args, work, hs, bare, deliveries, openloop,
                    deliveries.write("bare", BARE_BODIES, args.threads),
                )  # fmt: skip
                for name in args.engines:
                    engines.append(one_engine(bench, name))
                bare_memory = {} if bare is None else status_kib(bare.pid)
            finally:
                if bare is not None:
                    bare.stop()
    print(intake_report.report(args, started, engines, bare_memory))
    if args.json:
        figures = {
            "started": started.isoformat(),
            "settings": vars(args),
            "engines": engines,
            "bare_memory_kib": bare_memory,
        }
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    lost = [t for t in bench.tallies if not t.ok]
    if lost:
        say(f"{len(lost)} run(s) did not match the database with the 202s: {lost}")
    misplaced = [check for check in bench.landings if not check.ok]
    if misplaced:
        say(f"{len(misplaced)} run(s) stored knocks at another door: {misplaced}")
    return 1 if lost or misplaced else 0


if __name__ == "__main__":
    sys.exit(main())

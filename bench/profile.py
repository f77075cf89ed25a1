"""A sampling profile of a served process with py-spy, and its summary.

`python -m bench.intake --profile FILE` records Knock during one more wrk run (`record`,
`finish`) and prints the summary (`summarise`, `text`): py-spy's raw collapsed stacks, one line
per distinct stack (`thread;outermost;...;innermost count`), read into the functions that
were running (own time: the innermost frame) and those that were on the stack (total time: every
distinct function of the stack, once, leaving out the entry frames that start the server or a
thread), and the samples by area of the code, two ways: by the
innermost frame (where the CPU was), and by the innermost frame of Knock's own code (on whose
behalf: a library's time is charged to the Knock code that called it; time under Knock's ASGI
wrappers only is charged to the library).

py-spy pauses the process for each sample (a few tens of microseconds at 250 samples a second:
the profiled run is a little slower than an unprofiled one, and it is not in the tables). Without
pausing (`--nonblocking`) the stacks of Python 3.11 come out wrong: py-spy reads frames the
interpreter is reusing, so short functions that ran a moment earlier (a form field's names)
take a large share of own time they never used, and many stacks are cut short at the top.
C code has no frames of its own (no `--native`): uvloop's and httptools' own work shows as the
Python frame that called into them, mostly `Runner.run` (the event loop).

py-spy is not a dependency of the project: `pip install py-spy` into the venv. It needs to read
the process's memory (ptrace): root, or a kernel that lets a user trace their own processes.

    .venv/bin/python -m bench.profile FILE        # summarise a raw profile again
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

# Areas of the code, by the file of a frame (py-spy shortens a path to its package part); the
# first that matches names it. Knock's own modules come before the libraries they call.
AREAS = (
    ("admission", ("knock/core/admission", "knock/store/admission")),
    ("webhook: parsing, signature, Matrix ID", ("knock/core/forms", "knock/core/mxid")),
    ("block-list check", ("knock/core/blocklist",)),
    ("reception and group commit: the hand-off to admission's batch", (
        "knock/services/invites", "knock/store/__init__", "knock/store/writes",
    )),
    ("access log and redaction", ("logging/", "knock/web/logs", "knock/logs", "uvicorn/logging")),
    ("Knock's web layer and routes", ("knock/web",)),
    ("Knock's invite worker", ("knock/services/worker", "knock/core/jobs", "knock/matrix")),
    ("Knock, other", ("knock/", "mknock")),
    ("HTTP stack: uvicorn, Starlette, FastAPI, pydantic", (
        "uvicorn/", "starlette/", "fastapi/", "h11/", "httptools/", "pydantic", "anyio/",
        "annotated_types/",
    )),
    ("database: SQLAlchemy and drivers", ("sqlalchemy/", "aiosqlite/", "asyncpg/", "sqlite3/")),
    ("thread hand-offs", (
        "concurrent/futures/", "threading.py", "asyncio/threads.py", "queue.py",
    )),
    ("event loop", ("asyncio/", "uvloop/")),
    ("httpx (the worker's homeserver calls)", ("httpx/", "httpcore/", "h2/", "ssl.py")),
)  # fmt: skip
FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^()]*)\)$")
# Knock's ASGI wrappers: time under them (and no deeper Knock frame) is the HTTP stack's.
WRAPPERS = ("knock/web/app.py", "knock/web/body_limit.py")
MAIN = "MainThread"
# Entry frames under every stack of their thread (starting the server, or a thread): left out
# of total time, where they would fill the top of the list.
ENTRY = (
    "(<frozen runpy>)", "(click/core.py)", "(uvicorn/main.py)", "(uvicorn/__main__.py)",
    "Server.run (uvicorn/server.py)", "(uvicorn/_compat.py)", "(threading.py)",
)  # fmt: skip


def spy() -> str:
    """The py-spy executable: on PATH or beside this Python's."""
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("--profile needs py-spy: pip install py-spy (into the venv)")
    return found


def output_for(path: Path, engine: str, engines: int) -> Path:
    """The profile file of one engine: `path` itself when one engine is measured."""
    return path if engines == 1 else path.with_name(f"{path.name}.{engine}")


def record(pid: int, seconds: float, out: Path, rate: int) -> subprocess.Popen[bytes]:
    """Start sampling `pid` for `seconds` into `out`, raw format."""
    command = [
        spy(), "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
        "--rate", str(rate), "--format", "raw", "--output", str(out), "--nolineno",
        "--threads",
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(spy_process: subprocess.Popen[bytes]) -> None:
    """Wait for py-spy to write its file."""
    _, err = spy_process.communicate(timeout=120)
    if spy_process.returncode != 0:
        raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')[-2000:]}")


CLK_TCK = os.sysconf("SC_CLK_TCK")


def thread_ticks(pid: int) -> dict[int, int]:
    """CPU time (user + system, clock ticks) of each thread of `pid`, by thread id."""
    found = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        found[int(tid)] = int(fields[11]) + int(fields[12])
    return found


def thread_cores(before: dict[int, int], after: dict[int, int], wall: float) -> dict[int, float]:
    """Cores each thread used between two `thread_ticks` (CPU s / wall s)."""
    return {
        tid: round((ticks - before.get(tid, 0)) / CLK_TCK / wall, 3) for tid, ticks in after.items()
    }


def area_of(frame: str) -> str:
    match = FRAME.match(frame)
    where = match.group("file") if match else frame
    for area, prefixes in AREAS:
        if any(prefix in where for prefix in prefixes):
            return area
    return "other"


def on_behalf_of(frames: list[str]) -> str:
    """The area of the innermost frame of Knock's own code (not an ASGI wrapper), else of the
    innermost frame."""
    for frame in reversed(frames):
        if ("knock/" in frame or "mknock" in frame) and not any(w in frame for w in WRAPPERS):
            return area_of(frame)
    return area_of(frames[-1])


def thread_name(frame: str) -> str:
    """`thread (1234): MainThread` -> `MainThread`."""
    return frame.partition("): ")[2] or frame


def summarise(path: Path, cores: dict[int, float] | None = None) -> dict[str, Any]:
    """Own and total samples per function, samples per thread, and samples per area (by the
    innermost frame, and by the innermost Knock frame), each split main thread / others;
    `cores`: each thread's CPU by thread id (`thread_cores`), shown beside its samples."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    thread_ids: dict[str, int] = {}
    areas: Counter[tuple[str, bool]] = Counter()
    behalf: Counter[tuple[str, bool]] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        thread = frames[0] if frames[0].startswith(("thread ", "process ")) else ""
        if thread:
            frames = frames[1:]
        samples += n
        name = thread_name(thread) if thread else "(no thread id)"
        threads[name] += n
        tid = re.match(r"thread \((\d+)\)", thread)
        if tid:
            thread_ids[name] = int(tid.group(1))
        if not frames:
            continue
        main = not thread or thread_name(thread) == MAIN
        own[frames[-1]] += n
        areas[(area_of(frames[-1]), main)] += n
        behalf[(on_behalf_of(frames), main)] += n
        for frame in set(frames):
            if not frame.endswith(ENTRY):
                total[frame] += n
    by_id = cores or {}
    return {
        "samples": samples,
        "threads": [
            (name, n, by_id.get(thread_ids.get(name, -1))) for name, n in threads.most_common()
        ],
        "areas": split(areas),
        "on_behalf_of": split(behalf),
        "own": own.most_common(),
        "total": total.most_common(),
    }


def split(counts: Counter[tuple[str, bool]]) -> list[tuple[str, int, int]]:
    """(area, samples on the main thread, samples on other threads), most first."""
    names = {name for name, _ in counts}
    rows = [(name, counts[(name, True)], counts[(name, False)]) for name in names]
    return sorted(rows, key=lambda row: -(row[1] + row[2]))


def text(summary: dict[str, Any], top: int) -> str:
    """The summary as Markdown tables: threads, areas, and the `top` functions each way."""
    samples = summary["samples"] or 1

    def share(n: int) -> str:
        return f"{100 * n / samples:.1f} %"

    parts = [
        f"{summary['samples']:,} samples of running code (idle threads left out; py-spy also "
        "counts a thread waiting for the GIL, or on some queues, as running: the CPU column, "
        "read from /proc over the run, is what each thread used)"
    ]
    rows = [
        "| thread | samples | share | CPU used (cores, from /proc) |",
        "| --- | --- | --- | --- |",
    ]
    rows += [
        f"| {name} | {n:,} | {share(n)} | {'-' if cores is None else f'{cores:.3f}'} |"
        for name, n, *rest in summary["threads"]
        for cores in [rest[0] if rest else None]
    ]
    parts.append("\n".join(rows))
    for key, title in (
        ("areas", "area of the running frame"),
        ("on_behalf_of", "area of the innermost Knock frame"),
    ):
        rows = [
            f"| {title} | main thread | other threads | share of all samples |",
            "| --- | --- | --- | --- |",
        ]
        rows += [
            f"| {name} | {main:,} | {others:,} | {share(main + others)} |"
            for name, main, others in summary[key]
        ]
        parts.append("\n".join(rows))
    for key, title in (("own", "own time"), ("total", "total time")):
        rows = [f"| function ({title}) | samples | share |", "| --- | --- | --- |"]
        rows += [
            f"| `{name.replace('|', '/')}` | {n:,} | {share(n)} |" for name, n in summary[key][:top]
        ]
        parts.append("\n".join(rows))
    return "\n\n".join(parts)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.profile FILE", file=sys.stderr)
        return 2
    print(text(summarise(Path(argv[0])), 20))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

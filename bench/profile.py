"""A sampling profile of a served process with py-spy, and its summary.

`python -m bench.intake --profile FILE` records Knock during one more wrk run (`record`,
`finish`) and prints the summary (`summarise`, `text`): py-spy's raw collapsed stacks, one line
per distinct stack (`thread;outermost;...;innermost count`), read into the functions that
were running (own time: the innermost frame) and those that were on the stack (total time: every
distinct function of the stack, once), and the share of own time by area of the code.

py-spy is not a dependency of the project: `pip install py-spy` into the venv. It needs to read
the process's memory (ptrace): root, or a kernel that lets a user trace their own processes.

    .venv/bin/python -m bench.profile FILE        # summarise a raw profile again
"""

from __future__ import annotations

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
    """Start sampling `pid` for `seconds` (without pausing it) into `out`, raw format."""
    command = [
        spy(), "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
        "--rate", str(rate), "--format", "raw", "--output", str(out), "--nolineno",
        "--threads", "--nonblocking",
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(spy_process: subprocess.Popen[bytes]) -> None:
    """Wait for py-spy to write its file."""
    _, err = spy_process.communicate(timeout=120)
    if spy_process.returncode != 0:
        raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')[-2000:]}")


def area_of(frame: str) -> str:
    match = FRAME.match(frame)
    where = match.group("file") if match else frame
    for area, prefixes in AREAS:
        if any(prefix in where for prefix in prefixes):
            return area
    return "other"


def summarise(path: Path) -> dict[str, Any]:
    """Own and total samples per function, samples per thread and own samples per area."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    areas: Counter[str] = Counter()
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
        threads[thread or "(no thread id)"] += n
        if not frames:
            continue
        own[frames[-1]] += n
        areas[area_of(frames[-1])] += n
        for frame in set(frames):
            total[frame] += n
    return {
        "samples": samples,
        "threads": threads.most_common(),
        "areas": areas.most_common(),
        "own": own.most_common(),
        "total": total.most_common(),
    }


def text(summary: dict[str, Any], top: int) -> str:
    """The summary as Markdown tables: threads, areas, and the `top` functions each way."""
    samples = summary["samples"] or 1

    def share(n: int) -> str:
        return f"{100 * n / samples:.1f} %"

    parts = [f"{summary['samples']:,} samples of running code (idle threads left out)"]
    rows = ["| thread | samples | share |", "| --- | --- | --- |"]
    rows += [f"| {name} | {n:,} | {share(n)} |" for name, n in summary["threads"]]
    parts.append("\n".join(rows))
    rows = ["| area (own time) | samples | share |", "| --- | --- | --- |"]
    rows += [f"| {name} | {n:,} | {share(n)} |" for name, n in summary["areas"]]
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

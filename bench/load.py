"""Load for the intake benchmark: signed Tally deliveries, wrk, and the open-loop generator.

`run_wrk` drives a server through bench/intake.lua (each body sent at most once, every request
answered before the figures are read); `run_openloop` sends at a fixed rate with
bench/openloop.c, compiled by `build_openloop`.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.processes import Server
from knock.core.knocks import DEFAULT_DOOR
from knock_testing.signing import sign_tally

HERE = Path(__file__).resolve().parent
LUA = HERE / "intake.lua"
OPENLOOP_C = HERE / "openloop.c"
TALLY_SAMPLE = HERE.parent / "tests" / "fixtures" / "forms" / "tally.json"
SECRET = "bench-tally-signing-secret"
DRAIN_LIMIT = 90.0  # seconds a run may take to collect its last answers


class Deliveries:
    """Signed Tally deliveries, each with its own submission id and Matrix ID."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        sample = json.loads(TALLY_SAMPLE.read_bytes())
        sample["eventId"] = "@@EVENT@@"
        sample["data"]["submissionId"] = sample["data"]["responseId"] = "@@SUBMISSION@@"
        for question in sample["data"]["fields"]:
            if question["label"] == "Matrix ID":
                question["value"] = "@@MXID@@"
        self.template = json.dumps(sample)

    def body(self, tag: str, n: int) -> str:
        name = f"{tag}-{n}"
        return (
            self.template.replace("@@EVENT@@", name)
            .replace("@@SUBMISSION@@", name)
            .replace("@@MXID@@", f"@{name}:localhost")
        )

    def write(self, tag: str, count: int, files: int = 1, doors: Sequence[str] = ()) -> Path:
        """Write `count` deliveries as `<tag>.0` .. `<tag>.<files-1>` (disjoint, round robin).

        With `doors`, each file's deliveries take turns at the doors' webhooks: each line ends
        with a third field, the path it is posted to, and its names are `<tag>-<door>-<n>`
        (`door_sent_to` reads the door back from the knock's submission key).
        """
        prefix = self.directory / tag
        outs = [open(f"{prefix}.{k}", "w") for k in range(files)]  # noqa: SIM115
        try:
            for n in range(count):
                if doors:
                    door = doors[(n // files) % len(doors)]
                    body = self.body(f"{tag}-{door}", n)
                    path = f"\t{webhook_path(door)}"
                else:
                    body, path = self.body(tag, n), ""
                signature = sign_tally(body.encode(), SECRET)
                outs[n % files].write(f"{signature}\t{body}{path}\n")
        finally:
            for out in outs:
                out.close()
        return prefix


def webhook_path(door: str) -> str:
    """A door's webhook: the default door's is `/invite_from_form`."""
    return "/invite_from_form" if door == DEFAULT_DOOR else f"/doors/{door}/invite_from_form"


def door_sent_to(submission_key: str, tag: str) -> str | None:
    """The door a delivery written with `doors` was sent to, from its knock's submission key
    (`tally:<tag>-<door>-<n>`); None for a key of another run."""
    prefix = f"tally:{tag}-"
    if not submission_key.startswith(prefix):
        return None
    door, _, n = submission_key[len(prefix) :].rpartition("-")
    return door if door and n.isdigit() else None


def run_wrk(
    server: Server,
    bodies: Path,
    seconds: float,
    connections: int,
    threads: int,
    once: bool,
    outdir: Path,
) -> dict[str, Any]:
    """Run wrk through bench/intake.lua; return its BENCH figures and the 202s' knock ids."""
    shutil.rmtree(outdir, ignore_errors=True)
    outdir.mkdir(parents=True)
    command = [
        "wrk", "-t", str(threads), "-c", str(connections),
        "-d", f"{math.ceil(seconds + DRAIN_LIMIT)}s", "--timeout", "60s",
        "-s", str(LUA), f"{server.url}/invite_from_form",
        "--", str(bodies), str(seconds), "once" if once else "wrap", str(outdir),
    ]  # fmt: skip
    wrk = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wrk ends by itself after -d; SIGINT makes it report at once, done() included. A thread
    # that never drains leaves requests unanswered, which the caller's check then shows.
    deadline = time.monotonic() + seconds + DRAIN_LIMIT + 30
    while wrk.poll() is None:
        if len(list(outdir.glob("drained.*"))) == threads or time.monotonic() > deadline:
            wrk.send_signal(signal.SIGINT)
            break
        time.sleep(0.05)
    out, err = wrk.communicate(timeout=120)
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no figures:\n{out}\n{err}")
    result: dict[str, Any] = json.loads(line[len("BENCH ") :])
    result["rate"] = result["in_window"] / seconds
    result["ids"] = [
        knock_id for path in outdir.glob("ids.*") for knock_id in path.read_text().split()
    ]
    return result


def run_openloop(
    binary: Path,
    server: Server,
    bodies: Path,
    rate: float,
    seconds: float,
    ids: Path | None,
    timeout: float,
) -> dict[str, Any]:
    """Send at a fixed rate with bench/openloop.c; return its figures (`timed_out`: requests
    not answered within `timeout` seconds of their due time)."""
    command = [
        str(binary), "--port", server.url.rsplit(":", 1)[1], "--rate", f"{rate:.3f}",
        "--duration", str(seconds), "--bodies", f"{bodies}.0", "--max-conns", "1000",
        "--drain-timeout", str(DRAIN_LIMIT), "--timeout", str(timeout),
    ]  # fmt: skip
    if ids is not None:
        command += ["--ids-out", str(ids)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 200)
    if done.returncode != 0:
        raise RuntimeError(f"openloop failed: {done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    if ids is not None:
        result["ids"] = ids.read_text().split()
    return result


def build_openloop(directory: Path) -> Path:
    binary = directory / "openloop"
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise SystemExit("bench.intake needs a C compiler (cc or gcc) for bench/openloop.c")
    subprocess.run([compiler, "-O2", "-o", str(binary), str(OPENLOOP_C)], check=True)
    return binary

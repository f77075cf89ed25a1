"""Processes for the benchmarks: servers started and stopped, and the CPU and memory they use."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from knock_testing.synapse import free_port

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
QUIET_CORES = 0.3  # other work on the machine below this counts as quiet
UVICORN_OPTIONS = ["--host", "127.0.0.1"]  # otherwise uvicorn's defaults, as deployed

Pids = Callable[[], list[int]]


def base_env() -> dict[str, str]:
    """The environment a served process starts from: no settings of this shell leak in."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {k: v for k, v in os.environ.items() if k in keep} | {"PYTHONPATH": str(ROOT)}


@dataclass
class Server:
    """An HTTP server in a process of its own."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def serve(name: str, app: str, env: dict[str, str], cwd: Path, ready: str) -> Server:
    """Start `uvicorn <app>` with the shared options (one process) and wait until `ready`
    answers 200."""
    port = free_port()
    log = cwd / f"{name}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", app, *UVICORN_OPTIONS, "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(name, f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(server.url + ready, timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"{name} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def status_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found


def cpu_ticks(pid: int) -> int | None:
    """User plus system CPU time of a process, in clock ticks (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime, stime


def proc_table() -> dict[int, tuple[int, str]]:
    """Every process: pid -> (parent pid, command line)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        table[int(entry.name)] = (parent, cmdline)
    return table


def matching(needle: str) -> Pids:
    """A finder of the processes whose command line contains `needle`."""
    return lambda: [pid for pid, (_, cmd) in proc_table().items() if needle in cmd]


def children_of(parent: int) -> Pids:
    """A finder of a process and its children (PostgreSQL's postmaster and its backends)."""
    return lambda: [parent] + [pid for pid, (ppid, _) in proc_table().items() if ppid == parent]


def snapshot(pids: list[int]) -> dict[int, int]:
    found = {pid: cpu_ticks(pid) for pid in pids}
    return {pid: ticks for pid, ticks in found.items() if ticks is not None}


@dataclass
class CpuWatch:
    """Cores used by groups of processes between `start` and `stop` (CPU s / wall s)."""

    groups: dict[str, Pids]
    before: dict[str, dict[int, int]] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0
    load_cpu: float = 0.0

    machine: int = 0

    def start(self) -> None:
        self.before = {name: snapshot(find()) for name, find in self.groups.items()}
        self.load_cpu = children_cpu()
        self.machine = machine_ticks()
        self.wall = time.monotonic()

    def stop(self) -> None:
        self.wall = time.monotonic() - self.wall
        for name, find in self.groups.items():
            after = snapshot(find())
            ticks = sum(t - self.before[name].get(pid, 0) for pid, t in after.items())
            self.used[name] = ticks / CLK_TCK
        self.used["load generator"] = children_cpu() - self.load_cpu
        busy = (machine_ticks() - self.machine) / CLK_TCK
        self.used["other"] = max(0.0, busy - sum(self.used.values()))

    def shares(self) -> dict[str, float]:
        return {name: round(used / self.wall, 2) for name, used in self.used.items()}


def machine_ticks() -> int:
    """Busy time of all the machine's cores, in clock ticks (/proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return user + nice + system + irq + softirq + steal


def children_cpu() -> float:
    """CPU time of the waited-for children: the load generators, once each has exited."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy(seconds: float) -> float:
    """Cores the whole machine kept busy over the next `seconds`."""
    before = machine_ticks()
    time.sleep(seconds)
    return (machine_ticks() - before) / CLK_TCK / seconds


def wait_quiet(limit: float) -> float:
    """Wait up to `limit` seconds for the machine to be quiet; return the busy cores last seen."""
    deadline = time.monotonic() + limit
    while True:
        busy = machine_busy(1.0)
        if busy < QUIET_CORES or time.monotonic() >= deadline:
            return busy

"""`make demo` stopped by SIGTERM takes its throwaway Synapse with it, even before Knock serves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def demo_synapses(directory: Path) -> list[int]:
    """The processes whose command line names the demo's directory (its Synapse)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(directory) in cmdline and "synapse" in cmdline:
            found.append(int(proc.name))
    return found


def test_sigterm_while_the_homeserver_starts_stops_the_homeserver(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    demo = subprocess.Popen(
        [sys.executable, "-m", "knock_testing.demo"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert demo.stdout is not None
        assert "Starting a throwaway Synapse" in demo.stdout.readline()
        deadline = time.monotonic() + 60
        while not demo_synapses(tmp_path / ".demo"):  # Synapse is on its way up
            assert time.monotonic() < deadline, "the demo's Synapse never started"
            assert demo.poll() is None, demo.stdout.read()
            time.sleep(0.05)
        demo.send_signal(signal.SIGTERM)
        output = demo.communicate(timeout=60)[0]
        left = demo_synapses(tmp_path / ".demo")
    finally:
        if demo.poll() is None:
            demo.kill()
        for pid in demo_synapses(tmp_path / ".demo"):  # what a failure would leave behind
            os.kill(pid, signal.SIGKILL)
    assert demo.returncode == 128 + signal.SIGTERM, output
    assert "Stopped Knock and the homeserver." in output
    assert left == []

"""`make demo` stopped by SIGTERM takes its throwaway Synapse with it, even before Knock serves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from knock_testing import demo
from knock_testing.synapse import Sandbox

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


def test_sigterm_as_the_homeserver_process_is_made_still_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's SIGTERM handler runs only once the homeserver's process is recorded.

    A signal landing just as ``Popen`` returns is a window of microseconds that a real
    SIGTERM hits only now and then, so a ``Popen`` that signals its own process as it returns
    (a fake, for the timing only; the homeserver it starts is real) provokes it every time.
    """

    class SignalledPopen(subprocess.Popen[bytes]):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            signal.raise_signal(signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, demo._stop)
    monkeypatch.setattr(subprocess, "Popen", SignalledPopen)
    homeserver = Sandbox(tmp_path / "synapse")
    try:
        with pytest.raises(SystemExit) as stopped:
            homeserver.start()
        assert stopped.value.code == 128 + signal.SIGTERM
        assert demo_synapses(tmp_path) != []  # it was on its way up
    finally:
        signal.signal(signal.SIGTERM, previous)
        homeserver.stop()
        left = demo_synapses(tmp_path)
        for pid in left:  # what a failure would leave behind
            os.kill(pid, signal.SIGKILL)
    assert left == []

"""requirements.lock: the runtime dependencies the image installs, pinned and hashed.

The lock agrees with pyproject.toml, holds no development tool, and installs with
`--require-hashes` into a fresh virtual environment where Knock then starts. The last test uses
the package index the environment is set up with (pip's own configuration is kept), through the
session's `image_environment` (tests/conftest.py): the Dockerfile's own install.
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# `name==version \` at the start of a line; its `--hash=sha256:...` lines follow.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)", re.MULTILINE)


def pins() -> dict[str, str]:
    text = LOCK.read_text(encoding="utf-8")
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def hashed_pins() -> dict[str, int]:
    """How many hashes each pin carries."""
    counts: dict[str, int] = {}
    current = None
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        found = PIN.match(line)
        if found:
            current = canonicalize_name(found.group(1))
            counts[current] = 0
        elif current and line.strip().startswith("--hash=sha256:"):
            counts[current] += 1
    return counts


def test_every_runtime_dependency_is_pinned_at_a_version_pyproject_accepts() -> None:
    pinned = pins()
    wrong = []
    for text in PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name not in pinned:
            wrong.append(f"{name} is not in requirements.lock")
        elif not requirement.specifier.contains(pinned[name], prereleases=True):
            wrong.append(f"{name}=={pinned[name]} does not satisfy {requirement.specifier}")
    assert wrong == [], "run `make lock`: " + "; ".join(wrong)


def test_every_pin_carries_hashes_and_no_development_tool_is_locked() -> None:
    counts = hashed_pins()
    dev = {
        canonicalize_name(Requirement(text).name)
        for text in PYPROJECT["project"]["optional-dependencies"]["dev"]
    }
    runtime = {canonicalize_name(Requirement(t).name) for t in PYPROJECT["project"]["dependencies"]}

    assert counts, "requirements.lock pins nothing"
    assert [name for name, count in counts.items() if count == 0] == []
    assert sorted((dev - runtime) & counts.keys()) == []


@pytest.mark.slow
def test_the_lock_installs_with_require_hashes_into_a_fresh_environment_and_knock_starts(
    image_environment: Path, tmp_path: Path
) -> None:
    # The environment is the Docker image's install, shared with tests/integration/test_image.py.
    python = image_environment / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}

    def run(*args: str, cwd: Path = tmp_path) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
        return done

    run(str(python), "-m", "pip", "check")  # the lock holds everything Knock and its deps need

    env["NEW_ROOM_ID"] = "!room:example.org"
    built = run(str(python), "-c", "import mknock; print(type(mknock.app).__name__)")
    missing = subprocess.run(
        [str(image_environment / "bin" / "knock"), "serve"],
        cwd=tmp_path,
        env={k: v for k, v in env.items() if k != "NEW_ROOM_ID"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert built.stdout.strip() == "KnockApp"
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "knock: NEW_ROOM_ID is required (a room id like !abc:example.org)"
    )

"""The Dockerfile read as Docker reads it, for the tests that check what the image does.

No container engine runs the suite, so the tests take the image's own lines (its base, its
commands, its health check) from the Dockerfile rather than repeating them.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
# `python:3.11.17-slim-bookworm`: the official image, a patch release, the slim variant.
PYTHON_IMAGE = re.compile(r"^python:(\d+)\.(\d+)\.(\d+)-slim-[a-z]+$")


@dataclass(frozen=True)
class Instruction:
    """One instruction: its keyword in upper case and the rest of its line(s)."""

    keyword: str
    arguments: str


def instructions(text: str | None = None) -> list[Instruction]:
    """Every instruction, continuation lines joined and comments left out, as Docker does."""
    if text is None:
        text = DOCKERFILE.read_text(encoding="utf-8")
    found = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # Docker drops comment lines inside a continuation too
        if stripped.endswith("\\"):
            pending += stripped[:-1].strip() + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        pending = ""
        found.append(Instruction(keyword.upper(), arguments.strip()))
    assert not pending, "the Dockerfile ends in a continuation line"
    return found


def every(keyword: str) -> list[str]:
    """The arguments of every instruction of this kind, in order."""
    return [i.arguments for i in instructions() if i.keyword == keyword]


def only(keyword: str) -> str:
    """The arguments of the one instruction of this kind."""
    (arguments,) = every(keyword)
    return arguments


def exec_form(arguments: str) -> list[str]:
    """A JSON array of words, the form Docker runs without a shell (`["knock", "serve"]`)."""
    words = json.loads(arguments)
    assert isinstance(words, list) and all(isinstance(word, str) for word in words), arguments
    return words


def command() -> list[str]:
    """The image's CMD."""
    return exec_form(only("CMD"))


def healthcheck() -> tuple[dict[str, str], list[str]]:
    """The HEALTHCHECK's options (`{"--timeout": "5s"}`) and its command."""
    options_text, keyword, rest = only("HEALTHCHECK").partition("CMD ")
    assert keyword, "the HEALTHCHECK has no CMD"
    options = dict(word.split("=", 1) for word in shlex.split(options_text))
    return options, exec_form(rest)


def pip_installs() -> list[list[str]]:
    """The words after `pip install` of every install the RUN instructions make, in order."""
    found = []
    for arguments in every("RUN"):
        for step in arguments.split("&&"):
            words = shlex.split(step)
            if words[:2] == ["pip", "install"]:
                found.append(words[2:])
    return found


def exposed_port() -> int:
    """The one port the image exposes."""
    return int(only("EXPOSE").split("/")[0])


def environment() -> dict[str, str]:
    """What the ENV instructions set."""
    found: dict[str, str] = {}
    for arguments in every("ENV"):
        found |= dict(word.split("=", 1) for word in shlex.split(arguments))
    return found


def python_version() -> tuple[int, int]:
    """The major and minor version of the Python the image is built on."""
    (base,) = every("FROM")
    matched = PYTHON_IMAGE.match(base)
    assert matched, f"FROM {base}: not a python:X.Y.Z-slim-<debian> tag"
    return int(matched.group(1)), int(matched.group(2))


def image_python() -> str:
    """A Python of the image's minor version on this machine: the running one, or `pythonX.Y`."""
    wanted = python_version()
    if sys.version_info[:2] == wanted:
        return sys.executable
    name = "python{}.{}".format(*wanted)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} (the image's Python, as requirements.lock's) is not installed")
    return found

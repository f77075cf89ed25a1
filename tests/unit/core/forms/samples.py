"""Fixture samples and helpers shared by the form parsing tests."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "forms"
SECRET = "knock-fixture-secret"
JSON = "application/json"
URLENCODED = "application/x-www-form-urlencoded"
BOUNDARY = "knock-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"

_MXID = re.compile(r"@[a-z0-9._=/+-]+:[A-Za-z0-9.-]+(:\d+)?")


def sample(name: str) -> bytes:
    """Return the exact bytes of a fixture sample."""
    return (FIXTURES / name).read_bytes()


def sample_json(name: str) -> dict[str, Any]:
    """Return a JSON fixture sample decoded, for tests that vary it."""
    decoded: dict[str, Any] = json.loads(sample(name))
    return decoded


def signatures() -> dict[str, Any]:
    """Return the signatures of the samples from signatures.json."""
    decoded: dict[str, Any] = json.loads(sample("signatures.json"))["signatures"]
    return decoded


def is_valid(value: str) -> bool:
    """Stand in for knock.core.mxid.is_valid: a strict full match of a Matrix user ID."""
    return _MXID.fullmatch(value) is not None


def jotform_parts() -> list[tuple[str, str]]:
    """Read the parts listed in jotform.multipart.txt as (name, value) pairs."""
    lines = (FIXTURES / "jotform.multipart.txt").read_text().splitlines()
    listed = [line.strip() for line in lines if line.startswith("  ")]
    return [(name, value) for name, _, value in (line.partition("=") for line in listed)]


def multipart_body(parts: list[tuple[str, str]], boundary: str = BOUNDARY) -> bytes:
    """Encode (name, value) pairs as a multipart/form-data body, the way Jotform posts it."""
    chunks = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in parts
    ]
    return ("".join(chunks) + f"--{boundary}--\r\n").encode()


def json_body(payload: object) -> bytes:
    """Encode a payload as a JSON request body."""
    return json.dumps(payload).encode()

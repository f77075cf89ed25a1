"""The review queue: held knocks, their answers and why; approved or denied, alone or together."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

"""The join-wave breaker's state, for moderators only (never shown on a public route)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from knock.web.auth import require_admin
from knock.web.state import runtime_of

router = APIRouter()


@router.get("/join_wave")
async def join_wave(request: Request, _: str = Depends(require_admin)) -> dict[str, Any]:
    """Show whether the join-wave breaker is holding new knocks for review."""
    return await runtime_of(request).intake.join_wave_state()


@router.post("/join_wave/reset")
async def reset_join_wave(request: Request, actor: str = Depends(require_admin)) -> dict[str, Any]:
    """Let knocks through again; only knocks after the reset count toward the next wave."""
    await runtime_of(request).intake.reset_join_wave()
    return await runtime_of(request).intake.join_wave_state()

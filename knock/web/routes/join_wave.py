"""The join-wave breaker's state, for moderators only (never shown on a public route)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from knock.core.history import Actor
from knock.web.auth import require_admin
from knock.web.state import services_of

router = APIRouter()


@router.get("/join_wave")
async def join_wave(request: Request, _: Actor = Depends(require_admin)) -> dict[str, Any]:
    """Show whether the join-wave breaker is holding new knocks for review."""
    return await services_of(request).intake.join_wave_state()


@router.post("/join_wave/reset")
async def reset_join_wave(
    request: Request, actor: Actor = Depends(require_admin)
) -> dict[str, Any]:
    """Let knocks through again; only knocks after the reset count toward the next wave."""
    await services_of(request).intake.reset_join_wave()
    return await services_of(request).intake.join_wave_state()

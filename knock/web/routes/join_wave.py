"""The join-wave breaker's state, for moderators only (never shown on a public route)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from knock.core.history import Actor
from knock.web.answers import ADMIN
from knock.web.auth import require_admin
from knock.web.models import JoinWave
from knock.web.state import services_of

router = APIRouter()


@router.get("/join_wave", responses=ADMIN)
async def join_wave(request: Request, _: Actor = Depends(require_admin)) -> JoinWave:
    """Show whether the join-wave breaker is holding new knocks for review."""
    return JoinWave.model_validate(await services_of(request).intake.join_wave_state())


@router.post("/join_wave/reset", responses=ADMIN)
async def reset_join_wave(request: Request, actor: Actor = Depends(require_admin)) -> JoinWave:
    """Let knocks through again; only knocks after the reset count toward the next wave."""
    await services_of(request).intake.reset_join_wave(actor)
    return JoinWave.model_validate(await services_of(request).intake.join_wave_state())

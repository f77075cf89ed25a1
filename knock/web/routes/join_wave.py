"""The join-wave breaker's state, for moderators only (never shown on a public route)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from knock.core.history import Actor
from knock.web.answers import ADMIN
from knock.web.auth import require_admin
from knock.web.models import JoinWave
from knock.web.routes.admin import NO_DOOR, one_door
from knock.web.state import services_of

router = APIRouter()


@router.get("/join_wave", responses={**ADMIN, 404: NO_DOOR})
async def join_wave(
    request: Request, door: str = Depends(one_door), _: Actor = Depends(require_admin)
) -> JoinWave:
    """Show whether a door's join-wave breaker (`?door=`, else the default door's) is holding
    new knocks for review."""
    return JoinWave.model_validate(await services_of(request).intake.join_wave_state(door))


@router.post("/join_wave/reset", responses={**ADMIN, 404: NO_DOOR})
async def reset_join_wave(
    request: Request, door: str = Depends(one_door), actor: Actor = Depends(require_admin)
) -> JoinWave:
    """Let knocks through a door again (`?door=`, else the default door); only knocks after the
    reset count toward its next wave."""
    await services_of(request).intake.reset_join_wave(actor, door)
    return JoinWave.model_validate(await services_of(request).intake.join_wave_state(door))

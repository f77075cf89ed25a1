"""Every knock, filtered and paged; one knock's detail; the pending invites."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

"""The block-list and the allow-list: entries, blocking with a dry run first, checks."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

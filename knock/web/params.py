"""Query parameters that name one value: given twice, they are refused, not read by a rule the
caller cannot see (FastAPI would take the last)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, Request


def given_once(*names: str) -> Callable[[Request], None]:
    """A dependency that answers 422 when one of `names` is in the query more than once."""

    def check(request: Request) -> None:
        for name in names:
            if len(request.query_params.getlist(name)) > 1:
                raise HTTPException(422, f"Give {name} once in the query, not several times")

    return check

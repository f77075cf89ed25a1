"""What a log line is about: the knock, the job and the door being handled, if any.

The webhook's reception, the knock page and the worker say what they are handling with `about`;
`knock.web.logs` copies it onto every record made meanwhile (in that task), and its JSON lines
carry it as `knock_id`, `job` and `door`. A context variable rather than an argument: the lines
come from everywhere below (the homeserver client, the store), which need not know.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

KNOCK_ID: ContextVar[str | None] = ContextVar("knock_id", default=None)
JOB: ContextVar[str | None] = ContextVar("job", default=None)
DOOR: ContextVar[str | None] = ContextVar("door", default=None)

FIELDS = {"knock_id": KNOCK_ID, "job": JOB, "door": DOOR}
_VARIABLES = (KNOCK_ID, JOB, DOOR)


class about:  # noqa: N801 - used as `with log_context.about(...)`, like a function
    """Mark the lines logged inside the block with what is given (the rest as they were), and
    put every field back as it was after it, `mark_knock`'s too.

    A class rather than a generator: every request and job enters one, and this costs a
    third of `contextmanager`'s machinery."""

    __slots__ = ("_given", "_tokens")

    def __init__(
        self, *, knock_id: str | None = None, job: str | None = None, door: str | None = None
    ) -> None:
        self._given = (knock_id, job, door)
        self._tokens: list[tuple[ContextVar[str | None], Token[str | None]]] = []

    def __enter__(self) -> None:
        self._tokens = [
            (variable, variable.set(value or variable.get()))
            for variable, value in zip(_VARIABLES, self._given, strict=True)
        ]

    def __exit__(self, *_: object) -> None:
        for variable, token in reversed(self._tokens):
            variable.reset(token)


def mark_knock(knock_id: str | None) -> None:
    """Mark the rest of the current `about` block's lines with the knock it has committed."""
    if knock_id:
        KNOCK_ID.set(knock_id)


def current() -> dict[str, str]:
    """What the lines logged now are about, only what is set."""
    return {name: value for name, variable in FIELDS.items() if (value := variable.get())}

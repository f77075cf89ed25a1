"""Parsed form submissions and the error raised for unusable deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

PLATFORMS = ("tally", "typeform", "formbricks", "heyform", "jotform", "fillout", "generic", "html")


class Reading(StrEnum):
    """How a delivery's body may be read."""

    BY_SHAPE = "by_shape"  # as the platform its signature header or its shape says
    PLAIN = "plain"  # only as generic JSON or an HTML form: the caller cannot pick a platform


@dataclass(frozen=True)
class Field:
    """One answered question, hidden field or URL parameter of a submission."""

    label: str | None
    key: str | None
    ref: str | None
    value: str
    hidden: bool = False

    def names(self) -> tuple[str, ...]:
        """Return the label, key and ref that are set, in that order."""
        return tuple([name for name in (self.label, self.key, self.ref) if name is not None])


@dataclass(frozen=True)
class Submission:
    """One form delivery reduced to what Knock needs: who sent which answers."""

    platform: str
    submission_id: str | None
    fields: tuple[Field, ...]
    final: bool = True

    def field_values(self) -> dict[str, str]:
        """Map every field's key, and its label where that differs, to its value.

        The first field wins when a name repeats, so the order of the delivery decides.
        """
        values: dict[str, str] = {}
        for field in self.fields:
            for name in (field.key, field.label):
                if name is not None:
                    values.setdefault(name, field.value)
        return values

    def answers(self) -> dict[str, str]:
        """Map each field to its value once, as moderators read it: by its label, else its key.

        A name an earlier field took already falls back to the field's next one (its key, its
        ref); a field whose names are all taken is left out. A hidden field left empty (an unused
        honeypot or URL parameter) answers nothing.
        """
        answers: dict[str, str] = {}
        for field in self.fields:
            if field.hidden and not field.value:
                continue
            name = next((name for name in field.names() if name not in answers), None)
            if name is not None:
                answers[name] = field.value
        return answers


class PayloadError(Exception):
    """A delivery that cannot be used, with the HTTP status and a message to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

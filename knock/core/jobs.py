"""The kinds of durable job: each is carried out by exactly one handler in the worker."""

from __future__ import annotations

from enum import StrEnum


class JobKind(StrEnum):
    """What a job does, as stored in the jobs table."""

    INVITE = "invite"  # invite a queued knock
    WELCOME = "welcome"  # welcome someone who joined
    ANNOUNCE = "announce"  # post a knock held for review to the moderation room
    CHECK_ACCOUNT = "check_account"  # ask whether a knock page's account exists, for its status
    PROFILE = "profile"  # look a knock held for review up: the console shows the name and avatar
    SIGN_IN_LINK = "sign_in_link"  # send a console sign-in link to a moderator (no knock)
    CHILD_INVITE = "child_invite"  # invite a space door's knock into one child room (its room)

    @classmethod
    def read(cls, stored: str) -> JobKind | None:
        """Read a stored kind; None for a kind this version does not know."""
        try:
            return cls(stored)
        except ValueError:
            return None

    @property
    def attempts_invite(self) -> bool:
        """Tell whether claiming the job marks its knock's invite as attempted.

        After a crash, an invite found in the room for a knock with this mark is the knock's
        own, so the mark is set in the claim's transaction, before any invite can go out.
        """
        return self is JobKind.INVITE

    @property
    def settles_knock(self) -> bool:
        """Tell whether giving up on the job fails its knock (a lookup only gives up)."""
        return self not in (
            JobKind.CHECK_ACCOUNT,
            JobKind.PROFILE,
            JobKind.SIGN_IN_LINK,
            JobKind.CHILD_INVITE,  # the space's invite went out: the knock stands
        )

    @property
    def about_knock(self) -> bool:
        """Tell whether the job is a step of a knock (and is dropped when its knock is gone)."""
        return self is not JobKind.SIGN_IN_LINK

"""The block-list and the allow-list: entries, blocking with a dry run first, checks.

The page does what the admin API's block-list routes do, through the same services: an entry is
built by `Blocklist.entry_for` (which refuses catch-alls and invalid patterns), blocking is
`Blocking.block` (a dry run first; past BLOCK_CONFIRM_THRESHOLD the entry is held until the
moderator confirms), unblocking `Blocking.unblock`, the allow-list `Blocklist.add` and
`Blocklist.remove`, and a check reads an id as `knock check` does. Every action is a post
carrying the session's form token, done as the session's actor, and answered with a redirect
to the page and a fixed message chosen by a code.

At the default door the page changes the entries of every door (and the allow-list, every
door's too); at another door, blocking adds an entry of that door's own, which refuses knocks
there and removes people from that door's rooms only, and the entries of every door are shown
read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from knock.core.knocks import DEFAULT_DOOR
from knock.services.blocklist.actions import NeedsConfirmation, NotBlocked, Plan
from knock.services.blocklist.checks import Checked, Checker
from knock.services.blocklist.index import BadPattern
from knock.services.console.sessions import Session
from knock.services.errors import caller_facing_errors, problem_of
from knock.web.console.session import (
    door_of,
    redirect_to,
    review_count,
    show,
    signed_in,
    signed_post,
)
from knock.web.state import services_of

router = APIRouter()

PAGE = "/blocklist"
TEMPLATE = "console/blocklist.html"
PLAN_TEMPLATE = "console/blocklist_block.html"
POLICY = "policy:"  # the origin of a policy room's entries: "policy:<room id>"
SHOWN = 500  # rows shown per list; the check box checks against every entry
MAX_ID = 512  # what the admin API accepts for an id or pattern
MAX_REASON = 2000

# The messages a redirect back to the page may show, by code: never text from the request.
FLASHES = {
    "blocked": "Blocked. Everyone it covers was removed or turned down; new knocks it covers "
    "are refused.",
    "blocked-partly": "Blocked, but the homeserver refused some removals (Knock's log says "
    "whom); new knocks it covers are refused.",
    "unblocked": "Unblocked. Any ban Knock placed because of that entry was lifted.",
    "not-blocked": "That entry is no longer on the block-list; nothing was done.",
    "allowed": "Added to the allow-list: it overrides any block-list match for the ids it covers.",
    "unallowed": "Removed from the allow-list.",
    "not-allowed": "That entry is no longer on the allow-list; nothing was done.",
    "unreadable": "That entry cannot be read as a pattern; nothing was done.",
}

# What each rule of a match means, said to a moderator (the entry follows).
RULES = {
    "allow": "is covered by the allow-list entry",
    "exact": "is exactly the entry",
    "glob": "matches the pattern",
    "server": "is on the blocked server",
    "normalised": "is the same name, written differently, as",
    "other_server": "has the same name, on another server, as",
    "digits": "differs only by numbers added or cut from",
    "edit_distance": "is a near miss of",
    "display_name": "has a display name that looks like",
}
VERDICTS = {
    "block": "Blocked: a knock from this id is refused.",
    "review": "Review: a knock from this id waits for a moderator.",
    "allow": "Allowed: nothing on the block-list stops a knock from this id.",
}


@router.get(PAGE)
async def blocklist_page(request: Request, done: str | None = None) -> Response:
    """The lists, the forms to block and allow, and the check box."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    return await _page(request, session, flash=FLASHES.get(done or ""))


@router.get(PAGE + "/check")
async def check(request: Request, user_id: str = "") -> Response:
    """The page with the verdict for an id and every match behind it, as `knock check` says."""
    session = await signed_in(request)
    if isinstance(session, Response):
        return session
    typed = user_id.strip()
    if not typed:
        return await _page(request, session, check={"problem": "Type a Matrix ID to check."})
    if len(user_id) > MAX_ID:
        problem = f"That is too long to be a Matrix ID (at most {MAX_ID} characters)."
        return await _page(request, session, check={"text": user_id[:MAX_ID], "problem": problem})
    services = services_of(request)
    door = door_of(request)
    checker = Checker(
        lambda repaired, typed: services.blocklist.check(repaired, typed, door=door),
        services.account.default_server(),
    )
    checked: Checked = checker.check(user_id)
    return await _page(request, session, check={"text": user_id, "checked": checked})


@router.post(PAGE + "/block")
async def block(request: Request) -> Response:
    """Block an entry: without `go`, a dry run saying who would be removed; with it, for real.

    Past BLOCK_CONFIRM_THRESHOLD, going ahead holds the entry (it refuses new knocks and
    removes nobody) and asks for a confirmation, as the API's 409 does; `confirm` puts it in
    force. At a door other than the default, the entry is that door's own.
    """
    posted = await signed_post(request)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    pattern, reason = _field(form, "pattern"), _field(form, "reason").strip() or None
    go, confirm = _field(form, "go") == "1", _field(form, "confirm") == "1"
    kept = {"pattern": pattern, "reason": reason or ""}
    if reason is not None and len(reason) > MAX_REASON:
        problem = f"A reason is at most {MAX_REASON} characters."
        return await _page(request, session, 422, block_form={**kept, "reason_problem": problem})
    services = services_of(request)
    actor = session.actor
    try:
        entry = services.blocklist.entry_for(pattern[:MAX_ID], reason=reason, source=str(actor))
        result = await services.blocking.block(
            entry, actor, dry_run=not go, confirm=confirm, door=_own(request)
        )
    except BadPattern as exc:
        return await _page(request, session, 422, block_form={**kept, "problem": str(exc)})
    except NeedsConfirmation as exc:
        return await _plan_page(request, session, exc.plan, 409, held=True)
    except caller_facing_errors() as exc:
        return await _problem(request, session, exc)
    if result.dry_run:
        return await _plan_page(request, session, result.plan, confirm=confirm)
    return _back(request, "blocked-partly" if result.failed else "blocked")


@router.post(PAGE + "/unblock")
async def unblock(request: Request) -> Response:
    """Remove a moderator's entry (the door's own, at a door other than the default) and lift
    the bans Knock placed because of it."""
    posted = await signed_post(request)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    pattern = _field(form, "pattern")[:MAX_ID]
    try:
        await services_of(request).blocking.unblock(pattern, session.actor, door=_own(request))
    except BadPattern:
        return _back(request, "unreadable")
    except NotBlocked:
        return _back(request, "not-blocked")
    except caller_facing_errors() as exc:
        return await _problem(request, session, exc)
    return _back(request, "unblocked")


@router.post(PAGE + "/allow")
async def allow(request: Request) -> Response:
    """Add an allow-list entry: it overrides any block-list match for the ids it covers."""
    posted = await signed_post(request, every_door=True)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    pattern, reason = _field(form, "pattern"), _field(form, "reason").strip() or None
    kept = {"pattern": pattern, "reason": reason or ""}
    if reason is not None and len(reason) > MAX_REASON:
        problem = f"A reason is at most {MAX_REASON} characters."
        return await _page(request, session, 422, allow_form={**kept, "reason_problem": problem})
    blocklist = services_of(request).blocklist
    try:
        entry = blocklist.entry_for(
            pattern[:MAX_ID], allow=True, reason=reason, source=str(session.actor)
        )
    except BadPattern as exc:
        return await _page(request, session, 422, allow_form={**kept, "problem": str(exc)})
    await blocklist.add(entry)
    return _back(request, "allowed")


@router.post(PAGE + "/unallow")
async def unallow(request: Request) -> Response:
    """Remove an allow-list entry."""
    posted = await signed_post(request, every_door=True)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    blocklist = services_of(request).blocklist
    try:
        pattern = _field(form, "pattern")[:MAX_ID]
        removed = await blocklist.remove(pattern, allow=True, by=session.actor)
    except BadPattern:
        return _back(request, "unreadable")
    return _back(request, "unallowed" if removed else "not-allowed")


async def _page(
    request: Request,
    session: Session,
    status: int = 200,
    *,
    flash: str | None = None,
    block_form: Mapping[str, str] | None = None,
    allow_form: Mapping[str, str] | None = None,
    check: Mapping[str, Any] | None = None,
) -> Response:
    """The block-list page: the lists, the forms (with what was typed kept) and a check."""
    own = _own(request)
    entries = await services_of(request).blocklist.entries()
    # Held entries first (they wait for a moderator), then the newest.
    entries.sort(key=lambda e: (not e.held, -e.added_at))
    mine = [e for e in entries if own is not None and e.door == own]
    entries = [e for e in entries if e.door is None]
    blocked = [e for e in entries if not e.allow and not e.origin.startswith(POLICY)]
    policy = [e for e in entries if not e.allow and e.origin.startswith(POLICY)]
    allowed = [e for e in entries if e.allow]
    context = {
        "own": own,
        "mine": mine[:SHOWN],
        "mine_total": len(mine),
        # Entries of every door are changed at the default door, by its moderators.
        "every_door": own is None,
        "may_change_every_door": session.may_act_at(DEFAULT_DOOR),
        "current": "blocklist",
        "flash": flash,
        "blocked": blocked[:SHOWN],
        "blocked_total": len(blocked),
        "policy": policy[:SHOWN],
        "policy_total": len(policy),
        "allowed": allowed[:SHOWN],
        "allowed_total": len(allowed),
        "held_total": sum(1 for e in (mine if own else entries) if e.held and not e.allow),
        "policy_prefix": POLICY,
        "block_form": block_form or {},
        "allow_form": allow_form or {},
        "check": check,
        "rules": RULES,
        "verdicts": VERDICTS,
        "max_id": MAX_ID,
        "max_reason": MAX_REASON,
    }
    count = await review_count(request)
    return show(request, session, TEMPLATE, context, status, review_count=count)


async def _plan_page(
    request: Request,
    session: Session,
    plan: Plan,
    status: int = 200,
    *,
    held: bool = False,
    confirm: bool = False,
) -> Response:
    """Who blocking would remove, and the button that goes ahead (or confirms a held entry)."""
    services = services_of(request)
    settings = services.settings
    threshold = settings.block_confirm_threshold
    context = {
        "current": "blocklist",
        "entry": plan.entry,
        "own": plan.door,
        "own_rooms": len(services.blocking.rooms_of(plan.door)),
        "removed": sorted(plan.removed),
        "rescinded": sorted(plan.rescinded),
        "declined": sorted(plan.declined),
        "people": plan.people,
        "over": len(plan.removed) > threshold,
        "threshold": threshold,
        "ban": settings.ban_on_block,
        "held": held,
        "confirm": confirm or held,
    }
    count = await review_count(request)
    return show(request, session, PLAN_TEMPLATE, context, status, review_count=count)


async def _problem(request: Request, session: Session, exc: Exception) -> Response:
    """The database or the homeserver failed: say so in the console's words, not a 500."""
    problem = problem_of(exc)
    if problem is None:  # not expected: only the errors the services name are caught
        raise exc
    context = {
        "current": "blocklist",
        "heading": "That did not go through",
        "message": f"{problem.message}. Go back to the block-list to see where things stand.",
    }
    count = await review_count(request)
    return show(
        request, session, "console/problem.html", context, problem.status, review_count=count
    )


def _own(request: Request) -> str | None:
    """The door whose own entries the page changes: None at the default door (every door's)."""
    door = door_of(request)
    return None if door == DEFAULT_DOOR else door


def _back(request: Request, code: str) -> Response:
    """Back to the page at the same door, with the fixed message `code` names."""
    return redirect_to(request, PAGE, {"done": code})


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""

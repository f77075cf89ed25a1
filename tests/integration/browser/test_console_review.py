"""The console's review queue in Chromium against a real Synapse: decide held knocks by button,
by keyboard, several at once, and without JavaScript.

Each held knock is a registered Synapse user whose name is a look-alike of an id blocked through
the admin API (``@trolll-…`` for ``@troll-…``: a collapsed repeat asks review, never block), and
arrives as a signed Tally delivery.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from playwright.async_api import Locator, Page, expect

from knock.core.lifecycle import State
from knock_testing.synapse import Sandbox, SandboxUser
from tests.conftest import MakeUser
from tests.integration.browser.browsing import axe_violations, save_screenshot
from tests.integration.browser.console import ServedKnock, serve_knock, sign_in
from tests.integration.harness import eventually, invited, tally_delivery

# (the look-alike's prefix, the blocked id's prefix): each met only through a lossy fold.
LOOK_ALIKES = [("trolll", "troll"), ("rnallory", "mallory"), ("vvendy", "wendy")]
NOTE = "Same person as last week's spam; a d j k typed here do nothing"


async def hold(knock: ServedKnock, make_user: MakeUser, prefix: str, blocked: str) -> str:
    """Register a look-alike, block the id it looks like, knock as it: held for review."""
    person = make_user(prefix)
    entry = person.user_id.replace(f"@{prefix}-", f"@{blocked}-", 1)
    api = knock.knock
    answer = await api.http.post(
        "/block_user", headers=api.admin, json={"user_id": entry, "reason": "spam"}
    )
    assert answer.status_code == 200, answer.text
    body, headers = tally_delivery(person.user_id, submission_id=uuid.uuid4().hex[:10])
    answer = await api.http.post("/invite_from_form", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    knock_id = str(answer.json()["knock_id"])
    assert await api.knock_state(knock_id) == (State.REVIEW, "fuzzy_match")
    return person.user_id


async def open_review(page: Page, knock: ServedKnock, count: int) -> None:
    await sign_in(page, knock)
    await page.get_by_role("link", name=f"Review {count}").click()
    await expect(page.get_by_role("heading", name="Review", exact=True)).to_be_visible()


def card(page: Page, user_id: str) -> Locator:
    return page.get_by_role("article", name=user_id)


async def state_of(knock: ServedKnock, user_id: str) -> State:
    latest = await knock.knock.runtime.store.list_knocks(user_id=user_id, limit=1)
    return latest[0].state


async def test_approve_deny_with_a_note_and_the_keys_on_a_desktop(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    desktop_page: Page,
) -> None:
    page = desktop_page
    async with serve_knock(tmp_path, synapse, bot, private_room) as knock:
        first, second, third = [await hold(knock, make_user, *pair) for pair in LOOK_ALIKES]
        await open_review(page, knock, 3)

        await expect(page.get_by_role("article")).to_have_count(3)
        # ("lll", or "lll1" when the random part starts with a 1, which reads as an l.)
        await expect(card(page, first)).to_contain_text(
            f'Looks like {first.replace("@trolll-", "@troll-")}: collapsed repeated "lll'
        )
        await expect(card(page, second)).to_contain_text('look-alike "rn" → "m"')
        await expect(card(page, first).get_by_role("definition").nth(1)).to_have_text("Tally")
        await expect(card(page, first)).to_contain_text("How did you hear about us?")
        await expect(page.get_by_text("Keys: j next, k previous")).to_be_visible()
        await save_screenshot(page, "review")
        assert await axe_violations(page) == []

        # Keys: j to the first knock, j to the second, k back, then a approves the first.
        await page.keyboard.press("j")
        await expect(card(page, first)).to_be_focused()
        await page.keyboard.press("j")
        await expect(card(page, second)).to_be_focused()
        await page.keyboard.press("k")
        await expect(card(page, first)).to_be_focused()
        await save_screenshot(page, "review-focused")
        await page.keyboard.press("a")
        await expect(page.get_by_role("status")).to_have_text(
            "Approved 1 knock: its invite is on the way."
        )
        await eventually(lambda: invited(synapse, bot, private_room, first), what="the invite")
        await expect(page.get_by_role("article")).to_have_count(2)
        # The focus comes back where the decided knock stood: the next one.
        await expect(card(page, second)).to_be_focused()

        # Typing in the note moves nothing and decides nothing; Deny takes the note along.
        note = card(page, second).get_by_label("Note", exact=False)
        await note.press_sequentially(NOTE)
        await expect(note).to_have_value(NOTE)
        assert await state_of(knock, second) is State.REVIEW
        await card(page, second).get_by_role("button", name=f"Deny {second}").click()
        await expect(page.get_by_role("status")).to_have_text("Denied 1 knock. Nobody is told.")
        assert await state_of(knock, second) is State.REJECTED
        history = await knock.knock.runtime.store.history(
            (await knock.knock.runtime.store.list_knocks(user_id=second, limit=1))[0].knock_id
        )
        assert (history[-1].event, history[-1].actor, history[-1].detail) == (
            "denied",
            "console:api-key",
            NOTE,
        )

        await card(page, third).get_by_role("button", name=f"Approve {third}").click()
        await expect(page.get_by_text("Nothing waits for review")).to_be_visible()
        await expect(page.get_by_role("link", name="Review 0")).to_be_visible()
        await eventually(lambda: invited(synapse, bot, private_room, third), what="the invite")
        assert not invited(synapse, bot, private_room, second)
        await save_screenshot(page, "review-empty")
        assert await axe_violations(page) == []


async def test_the_review_queue_on_a_phone(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    phone_page: Page,
) -> None:
    page = phone_page
    async with serve_knock(tmp_path, synapse, bot, private_room) as knock:
        first, second = [await hold(knock, make_user, *pair) for pair in LOOK_ALIKES[:2]]
        await open_review(page, knock, 2)

        await expect(page.get_by_role("article")).to_have_count(2)
        await save_screenshot(page, "review")
        assert await axe_violations(page) == []
        # Nothing is wider than the phone's screen.
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390

        await card(page, first).get_by_role("button", name=f"Approve {first}").tap()
        await expect(page.get_by_role("status")).to_have_text(
            "Approved 1 knock: its invite is on the way."
        )
        await eventually(lambda: invited(synapse, bot, private_room, first), what="the invite")
        await expect(page.get_by_role("article")).to_have_count(1)
        assert await axe_violations(page) == []


async def test_several_at_once_without_javascript(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    no_script_page: Page,
) -> None:
    page = no_script_page
    async with serve_knock(tmp_path, synapse, bot, private_room) as knock:
        people = [await hold(knock, make_user, *pair) for pair in LOOK_ALIKES]
        await open_review(page, knock, 3)
        await expect(page.get_by_text("Keys: j next")).to_be_hidden()

        for user_id in people[:2]:
            await page.get_by_label(f"Select {user_id}").check()
        await page.get_by_label("Note for the denied knocks").fill("A wave of look-alikes")
        await page.get_by_role("button", name="Deny selected").click()

        await expect(page.get_by_role("status")).to_have_text("Denied 2 knocks. Nobody is told.")
        await expect(page.get_by_role("article")).to_have_count(1)
        await expect(card(page, people[2])).to_be_visible()
        assert [await state_of(knock, user_id) for user_id in people] == [
            State.REJECTED,
            State.REJECTED,
            State.REVIEW,
        ]
        await page.get_by_label(f"Select {people[2]}").check()
        await page.get_by_role("button", name="Approve selected").click()
        await expect(page.get_by_role("status")).to_have_text(
            "Approved 1 knock: its invite is on the way."
        )
        await eventually(lambda: invited(synapse, bot, private_room, people[2]), what="the invite")
        assert not any(invited(synapse, bot, private_room, p) for p in people[:2])
        await save_screenshot(page, "review-after")

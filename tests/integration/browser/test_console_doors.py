"""The console with two doors in Chromium against a real Synapse: the moderator picks a door with
the bar's Door select and sees that door's knocks, pending invites and review queue.

The club is a second door into a room of its own; knocks arrive at each door as Tally
deliveries (the club inherits the signing secret) and Knock invites each person into the room
of the door they knocked at.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from playwright.async_api import Page, expect

from knock.core.lifecycle import State
from knock_testing.synapse import Sandbox, SandboxUser
from tests.conftest import MakeUser
from tests.integration.browser.browsing import axe_violations, save_screenshot
from tests.integration.browser.console import SCANS_OFF, ServedKnock, serve_knock, settled, sign_in
from tests.integration.harness import invited, tally_delivery

CLUB = "club"


def doors_file(tmp_path: Path, club_room: str) -> Path:
    path = tmp_path / "doors.toml"
    path.write_text(
        f'[doors.{CLUB}]\nroom = "{club_room}"\nknock_page_room_name = "The club"\n',
        encoding="utf-8",
    )
    return path


async def deliver_at(served: ServedKnock, path: str, user_id: str) -> str:
    """Knock by the Tally webhook of one door; return the knock's id."""
    body, headers = tally_delivery(user_id, uuid.uuid4().hex[:8])
    answer = await served.knock.http.post(path, content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["knock_id"])


async def switch_door(page: Page, door: str) -> None:
    """Pick a door with the bar's select, as a moderator does, and show it."""
    await page.get_by_role("combobox", name="Door").select_option(door)
    await page.get_by_role("button", name="Show", exact=True).click()
    await expect(page.get_by_role("combobox", name="Door")).to_have_value(door)


async def test_switch_doors_and_see_each_doors_knocks_on_a_desktop_and_a_phone(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    desktop_page: Page,
    phone_page: Page,
) -> None:
    club_room = synapse.create_room(bot, name="The club")
    member, clubber = make_user("member"), make_user("clubber")
    overrides = {"doors_file": doors_file(tmp_path, club_room), **SCANS_OFF}
    async with serve_knock(tmp_path, synapse, bot, private_room, **overrides) as knock:
        at_default = await deliver_at(knock, "/invite_from_form", member.user_id)
        at_club = await deliver_at(knock, f"/doors/{CLUB}/invite_from_form", clubber.user_id)
        await settled(knock, at_default, State.INVITED)
        await settled(knock, at_club, State.INVITED)
        assert invited(synapse, bot, club_room, clubber.user_id)
        assert not invited(synapse, bot, club_room, member.user_id)

        page = desktop_page
        await sign_in(page, knock)
        door = page.get_by_role("combobox", name="Door")
        await expect(door).to_have_value("default")
        await expect(door.locator("option")).to_have_text(
            [f"default ({private_room})", f"{CLUB} ({club_room})"]
        )
        nav = page.get_by_role("navigation", name="Console")
        await nav.get_by_role("link", name="Knocks").click()
        rows = page.locator("table.cards tbody tr")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text(member.user_id)
        await expect(rows.first.locator('[data-label="Door"]')).to_have_text("default")
        await save_screenshot(page, "knocks-default")
        assert await axe_violations(page) == []

        await switch_door(page, CLUB)
        await expect(page).to_have_url(f"{knock.console}knocks?door={CLUB}")
        await expect(
            page.get_by_role("heading", name=f"Every knock at door {CLUB}")
        ).to_be_visible()
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text(clubber.user_id)
        await expect(rows.first.locator('[data-label="Door"]')).to_have_text(CLUB)
        await save_screenshot(page, "knocks-club")
        assert await axe_violations(page) == []

        # The nav stays at the club: its pending invites are the club room's.
        await nav.get_by_role("link", name="Pending invites").click()
        await expect(door).to_have_value(CLUB)
        invites = page.locator("table.invites tbody tr")
        await expect(invites).to_have_count(1)
        await expect(invites.first).to_contain_text(clubber.user_id)
        await invites.first.get_by_role("link", name=clubber.user_id).click()
        await expect(
            page.get_by_role("heading", name=f"Knock from {clubber.user_id}")
        ).to_be_visible()
        await expect(page.locator("dl.facts")).to_contain_text(CLUB)
        await save_screenshot(page, "knock-at-club")
        assert await axe_violations(page) == []

        # A knock opened by its id shows its own door whatever door is picked.
        await switch_door(page, "default")
        await expect(
            page.get_by_role("heading", name=f"Knock from {clubber.user_id}")
        ).to_be_visible()
        await expect(page.get_by_role("link", name=f"every knock at door {CLUB}")).to_be_visible()

        phone = phone_page
        await sign_in(phone, knock)
        await switch_door(phone, CLUB)
        await expect(phone.get_by_role("heading", name="Overview")).to_be_visible()
        await (
            phone.get_by_role("navigation", name="Console").get_by_role("link", name="Knocks").tap()
        )
        await expect(phone.locator("table.cards tbody tr")).to_have_count(1)
        await expect(phone.locator("table.cards tbody tr").first).to_contain_text(clubber.user_id)
        await save_screenshot(phone, "phone-knocks-club")
        assert await axe_violations(phone) == []
        # Nothing is wider than the phone's screen, the door's room id included.
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 390


async def test_block_at_a_door_refuses_there_only_on_a_desktop_and_a_phone(
    tmp_path: Path,
    synapse: Sandbox,
    bot: SandboxUser,
    private_room: str,
    make_user: MakeUser,
    desktop_page: Page,
    phone_page: Page,
) -> None:
    club_room = synapse.create_room(bot, name="The club")
    troll = make_user("troll")
    overrides = {"doors_file": doors_file(tmp_path, club_room), **SCANS_OFF}
    async with serve_knock(tmp_path, synapse, bot, private_room, **overrides) as knock:
        page = desktop_page
        await sign_in(page, knock)
        await switch_door(page, CLUB)
        nav = page.get_by_role("navigation", name="Console")
        await nav.get_by_role("link", name="Block-list").click()
        await expect(page.get_by_text("Entries you add here are door club's own")).to_be_visible()
        # The allow-list is every door's: changed at the default door only.
        await expect(page.get_by_role("button", name="Allow", exact=True)).to_have_count(0)
        await page.get_by_label("Matrix ID or pattern", exact=True).fill(troll.user_id)
        await page.get_by_role("button", name="Block", exact=True).click()
        await expect(page.get_by_text("This entry is door club's own")).to_be_visible()
        await save_screenshot(page, "block-at-club-plan")
        await page.get_by_role("button", name="Block", exact=True).click()
        mine = page.get_by_role("region", name="Blocked at this door")
        await expect(mine.get_by_role("rowheader")).to_have_text([troll.user_id])
        await save_screenshot(page, "blocklist-club")
        assert await axe_violations(page) == []

        # Refused at the club, still taken at the default door.
        at_club = await deliver_at(knock, f"/doors/{CLUB}/invite_from_form", troll.user_id)
        at_default = await deliver_at(knock, "/invite_from_form", troll.user_id)
        await settled(knock, at_club, State.REJECTED)
        await settled(knock, at_default, State.INVITED)
        await switch_door(page, "default")
        await expect(page.get_by_role("region", name="Blocked")).to_contain_text(
            "Nobody is blocked by a moderator's entry."
        )

        phone = phone_page
        await sign_in(phone, knock)
        await switch_door(phone, CLUB)
        await phone.goto(f"{knock.console}blocklist?door={CLUB}")
        await expect(phone.get_by_role("heading", name="Blocked at this door")).to_be_visible()
        await save_screenshot(phone, "phone-blocklist-club")
        assert await axe_violations(phone) == []
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 390

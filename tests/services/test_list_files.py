"""The block-list file: only lines that are entries become entries; the rest is skipped, said and
kept as comments, and no line can empty the room."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from knock.services.blocklist import mirror
from knock.services.runtime import Runtime
from tests.services.conftest import ROOM, Submit, drain
from tests.services.fake_homeserver import SERVER, FakeHomeserver

ALICE = f"@alice:{SERVER}"
BOB = f"@bob:{SERVER}"
TROLL = f"@troll:{SERVER}"
NEWCOMER = f"@newcomer:{SERVER}"

JUNK = [
    "not a valid line",  # 1
    "Alice Troll",  # 2
    "*",  # 3
    "@*:*",  # 4
    f"{TROLL} Reason: spam",  # 5: the one entry
    "# a comment, skipped silently",  # 6
    "",  # 7
    "@*:*.org",  # 8
    "@?:*",  # 9
    SERVER,  # 10: a bare server is written @*:hs.test in the file
]


@pytest.fixture
def knock_options() -> dict[str, Any]:
    return {"blocklist_scan_interval": 600}


async def leader_tick(services: Runtime) -> None:
    """One tick of the periodic duties with everything due, as on the lease holder."""
    services.duties.force()
    await services.duties.run_once()


async def test_junk_and_catch_all_lines_block_nobody_and_each_is_named_with_its_line(
    services: Runtime,
    homeserver: FakeHomeserver,
    submit: Submit,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for user in (ALICE, BOB, TROLL):
        homeserver.add_user(user)
        homeserver.join(user, ROOM)
    path = services.settings.blocklist_file
    path.write_text("\n".join(JUNK) + "\n", encoding="utf-8")

    with caplog.at_level(logging.WARNING):
        await leader_tick(services)
        await leader_tick(services)
    homeserver.add_user(NEWCOMER)
    fresh = await submit(NEWCOMER)
    await drain(services)

    room = {user: homeserver.membership(ROOM, user) for user in (ALICE, BOB, TROLL)}
    assert room == {ALICE: "join", BOB: "join", TROLL: "leave"}
    assert [e.pattern for e in await services.blocklist.entries()] == [TROLL]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [line.split(": skipped ")[0] for line in warned] == [
        f"{path}:{number}" for number in (1, 2, 3, 4, 8, 9, 10)
    ]
    assert "name a server instead" in warned[2] and "name a server instead" in warned[3]
    assert f"a whole server is written @*:{SERVER}" in warned[-1]
    assert homeserver.membership(ROOM, NEWCOMER) == "invite"
    assert fresh.state.value == "queued"
    # The file keeps the skipped lines as comments, which are not read again.
    text = path.read_text(encoding="utf-8").splitlines()
    assert f"{TROLL} Reason: spam" in text
    assert "# Skipped by Knock (not an entry" in text[2] and text[2].endswith("not a valid line")
    assert sum(line.startswith("# Skipped by Knock") for line in text) == 7


async def test_a_person_fixing_a_skipped_line_blocks_what_it_names(
    services: Runtime, homeserver: FakeHomeserver
) -> None:
    path = services.settings.blocklist_file
    path.write_text(f"{SERVER} Reason: spam server\n", encoding="utf-8")
    await leader_tick(services)
    skipped = path.read_text(encoding="utf-8")

    path.write_text(skipped + f"@*:{SERVER} Reason: spam server\n", encoding="utf-8")
    await leader_tick(services)

    assert [e.pattern for e in await services.blocklist.entries()] == [f"@*:{SERVER}"]
    assert services.blocklist.check(f"@anyone:{SERVER}").verdict == "block"
    assert services.blocklist.check("@anyone:elsewhere.org").verdict == "allow"


async def test_a_block_list_file_that_is_not_utf8_is_said_once_and_left_alone(
    services: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    path = services.settings.blocklist_file
    written = f"{TROLL} Reason: caf\xe9\n".encode("latin-1")
    path.write_bytes(written)

    with caplog.at_level(logging.WARNING):
        await leader_tick(services)
        await leader_tick(services)

    said = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in said] == [
        f"{path} is not UTF-8 text: Knock neither reads nor rewrites it until it is"
    ]
    assert all(r.exc_info is None for r in said)
    assert path.read_bytes() == written


async def test_knocks_own_file_is_parsed_again_only_once_a_person_edits_it(
    services: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = services.settings.blocklist_file
    path.write_text(f"not a valid line\n{TROLL} Reason: spam\n", encoding="utf-8")
    await leader_tick(services)
    parsed: list[str] = []
    parse = mirror.parse_list
    monkeypatch.setattr(mirror, "parse_list", lambda text: parsed.append(text) or parse(text))
    written = path.stat()

    await leader_tick(services)  # nothing changed: the file is neither parsed nor written
    assert parsed == [] and path.stat().st_mtime_ns == written.st_mtime_ns

    entry = services.blocklist.entry_for(BOB, reason="added in the console")
    await services.blocklist.add(entry)
    await leader_tick(services)  # written again, its skip comment kept; still not parsed
    text = path.read_text(encoding="utf-8").splitlines()
    assert parsed == []
    assert f"{BOB} Reason: added in the console" in text and f"{TROLL} Reason: spam" in text
    assert [line for line in text if line.startswith("# Skipped by Knock")] == [
        f"# Skipped by Knock ({mirror.NOT_AN_ENTRY}): not a valid line"
    ]

    path.write_text("\n".join(line for line in text if TROLL not in line) + "\n", "utf-8")
    await leader_tick(services)  # a person's edit: parsed, and applied
    assert len(parsed) == 1
    assert [e.pattern for e in await services.blocklist.entries()] == [BOB]


async def test_the_tick_before_the_first_knock_applies_edits_and_leaves_the_writing_to_the_next(
    services: Runtime,
) -> None:
    path = services.settings.blocklist_file
    await services.blocklist.add(services.blocklist.entry_for(BOB))
    duties = services.duties

    await duties.run_once(starting=True)  # as Knock starts: no file, so nothing to apply
    assert not path.exists()
    await duties.run_once()  # the next tick writes it
    assert f"{BOB}" in path.read_text(encoding="utf-8").splitlines()

    path.write_text(f"{BOB}\n{TROLL} Reason: written while Knock was stopped\n", "utf-8")
    await duties.run_once(starting=True)  # an edit: applied before the first knock
    assert services.blocklist.check(TROLL).verdict == "block"
    assert path.read_text("utf-8").startswith(mirror.HEADER)  # and written, to remember it

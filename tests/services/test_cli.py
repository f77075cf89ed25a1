"""The `knock` command in-process, on a SQLite file: what a moderator types and reads."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from knock.cli import main
from knock.store import Store, StoredEntry
from tests.services.fake_homeserver import SERVER

ROOM = f"!members:{SERVER}"
TROLL = f"@troll:{SERVER}"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Settings as a moderator's shell has them: the environment, no `.env`, no homeserver."""
    monkeypatch.chdir(tmp_path)
    for name in ("NEW_ROOM_ID", "BLOCKLIST_FILE", "ALLOWLIST_FILE", "DEFAULT_SERVER_NAME"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path}/knock.db"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("MATRIX_BASE_URL", "https://hs.invalid")
    return url


def stored(url: str) -> list[StoredEntry]:
    async def read() -> list[StoredEntry]:
        store = await Store.open(url)
        try:
            return await store.blocklist.entries()
        finally:
            await store.close()

    return asyncio.run(read())


def test_import_skips_every_line_that_is_not_an_entry_and_names_it(
    database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NEW_ROOM_ID", ROOM)
    original = tmp_path / "original.txt"
    original.write_text(
        f"not a valid line\nAlice Troll\n*\n{TROLL} Reason: spam\n@*:*\n\n# fine\n@nobody typo\n",
        encoding="utf-8",
    )

    code = main(["import", "--blocklist", str(original)])

    out, err = capsys.readouterr()
    assert code == 0
    assert out.splitlines() == ["block-list: 1 added, 0 already present, 5 lines skipped"]
    assert [line.split(": skipped ")[0] for line in err.splitlines()] == [
        f"knock: {original}:{number}" for number in (1, 2, 3, 5, 8)
    ]
    assert '"Alice Troll": not an entry' in err.splitlines()[1]
    assert "name a server instead" in err.splitlines()[2]
    assert [(e.pattern, e.reason, e.source) for e in stored(database)] == [
        (TROLL, "spam", "import")
    ]


def add_entries(url: str, *entries: StoredEntry) -> None:
    async def write() -> None:
        store = await Store.open(url)
        try:
            for entry in entries:
                await store.blocklist.add(entry)
        finally:
            await store.close()

    asyncio.run(write())


def json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def test_check_reads_ids_as_intake_does_and_needs_neither_a_room_nor_a_sign_in(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    add_entries(database, StoredEntry(TROLL, False, "moderator", "api:admin", "spam", 1.0))

    code = main(["check", f"https://matrix.to/#/{TROLL}", " @troll:HS.TEST ", "not an id!"])

    out, err = capsys.readouterr()
    assert code == 0, err
    link, shouted, junk = json_lines(out)
    assert (link["user_id"], link["matrix_id"], link["verdict"]) == (
        f"https://matrix.to/#/{TROLL}",
        TROLL,
        "block",
    )
    assert link["repairs"] == ["took the id from a matrix.to link"]
    assert (shouted["matrix_id"], shouted["verdict"]) == (TROLL, "block")
    assert (junk["matrix_id"], junk["verdict"]) == (None, "allow")
    assert junk["problem"].startswith("a Matrix ID has no spaces between words")
    assert err.splitlines() == [f'knock: "not an id!" is not a Matrix ID: {junk["problem"]}']


def test_check_completes_a_bare_name_with_the_default_server(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEFAULT_SERVER_NAME", SERVER)
    add_entries(database, StoredEntry(TROLL, False, "moderator", "api:admin", None, 1.0))

    assert main(["check", "troll"]) == 0

    [line] = json_lines(capsys.readouterr().out)
    assert (line["matrix_id"], line["verdict"]) == (TROLL, "block")


def test_check_reads_the_block_list_file_while_the_database_has_no_entries(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "blocked_users.txt").write_text(f"{TROLL} Reason: spam\nAlice Troll\n")

    code = main(["check", TROLL, f"@alice:{SERVER}"])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert [(line["matrix_id"], line["verdict"]) for line in json_lines(out)] == [
        (TROLL, "block"),
        (f"@alice:{SERVER}", "allow"),
    ]
    assert json_lines(out)[0]["matches"][0]["source"] == "file"
    assert err.splitlines() == [
        "knock: the database has no block-list entries yet; checking against "
        "BLOCKLIST_FILE (blocked_users.txt)",
        'knock: blocked_users.txt:2: skipped "Alice Troll": not an entry: a line starts with a '
        "Matrix ID or a pattern like @spam*:*, then the reason",
    ]


@pytest.mark.parametrize("how", ["--blocklist", "BLOCKLIST_FILE"])
def test_check_answers_a_file_that_is_not_utf8_with_one_line(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    listing = tmp_path / "blocked_users.txt"
    listing.write_bytes(f"{TROLL} Reason: caf\xe9\n".encode("latin-1"))
    args = ["--blocklist", str(listing)] if how == "--blocklist" else []

    code = main(["check", *args, TROLL])

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    shown = listing if how == "--blocklist" else "blocked_users.txt"
    assert err.splitlines()[-1] == f"knock: {shown} is not UTF-8 text"
    assert "Traceback" not in err


def test_blocklist_prints_the_stored_entries_with_their_status_without_a_room_or_sign_in(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    add_entries(
        database,
        StoredEntry(TROLL, False, "moderator", "api:admin", "spam", 1.0),
        StoredEntry("@spam*:*", False, "moderator", "file", None, 2.0, status="held"),
        StoredEntry(f"@friend:{SERVER}", True, "moderator", "cli", None, 3.0),
    )

    code = main(["blocklist"])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert [(e["user_id"], e["list"], e["status"]) for e in json_lines(out)] == [
        (TROLL, "block", "active"),
        ("@spam*:*", "block", "held"),
        (f"@friend:{SERVER}", "allow", "active"),
    ]


def test_commands_that_use_the_room_still_say_in_one_line_that_it_is_missing(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["unblock", TROLL])

    assert code == 2
    assert capsys.readouterr().err == (
        "knock: NEW_ROOM_ID is required (a room id like !abc:example.org)\n"
    )

"""The `knock` command in-process, on a SQLite file: what a moderator types and reads."""

from __future__ import annotations

import asyncio
from pathlib import Path

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

"""The `knock` command moderating in-process: the fake homeserver, a SQLite file, one shell user."""

from __future__ import annotations

import asyncio
import getpass
import json
from pathlib import Path
from typing import Any

import pytest

from knock import __version__, cli
from knock.cli import main
from knock.core.admission_batch import AddKnock
from knock.core.history import Actor, ActorKind, HistoryLine
from knock.core.knocks import KnockRecord, NewKnock
from knock.core.lifecycle import Event, State
from knock.services.console.audit import Audit, AuditFilter
from knock.store import Store, StoredEntry
from tests.services.fake_homeserver import BASE_URL, SERVER, FakeHomeserver

BOT = f"@knock:{SERVER}"
ROOM = f"!members:{SERVER}"
ALICE = f"@alice:{SERVER}"
BOB = f"@bob:{SERVER}"
MOD = "mod"  # the shell user the tests run as
VIEW_KEYS = [
    "knock_id",
    "user_id",
    "state",
    "reason",
    "source",
    "door",
    "received_at",
    "updated_at",
]


@pytest.fixture
def homeserver() -> FakeHomeserver:
    server = FakeHomeserver()
    server.add_user(BOT, "Knock", token="bot-token")
    server.create_room(BOT, room_id=ROOM)
    return server


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A moderator's shell: the environment (no `.env`), the fake homeserver, the user `mod`."""
    monkeypatch.chdir(tmp_path)
    for name in ("BLOCKLIST_FILE", "ALLOWLIST_FILE", "DEFAULT_SERVER_NAME", "MATRIX_USER_ID"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path}/knock.db"
    for name, value in {
        "DATABASE_URL": url,
        "NEW_ROOM_ID": ROOM,
        "MATRIX_BASE_URL": BASE_URL,
        "MATRIX_ACCESS_TOKEN": "bot-token",
        "TOKENS_FILE": str(tmp_path / "tokens.json"),
        "REQUEST_DELAY": "0",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(getpass, "getuser", lambda: MOD)
    return url


def on_store(url: str, work: Any) -> Any:
    async def run() -> Any:
        store = await Store.open(url)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


def add_knock(
    url: str,
    knock_id: str,
    user_id: str,
    state: State,
    at: float,
    reason: str | None = None,
    door: str = "default",
) -> None:
    new = NewKnock(
        knock_id, user_id, user_id, state, reason, "tally", f"s-{knock_id}", None, None, door=door
    )
    history = (HistoryLine(Event.RECEIVED, Actor.form("tally")),)
    on_store(url, lambda store: store.admit(AddKnock(new, history), at))


def knock_of(url: str, knock_id: str) -> KnockRecord:
    knock: KnockRecord | None = on_store(url, lambda store: store.get_knock(knock_id))
    assert knock is not None
    return knock


def actors(url: str, knock_id: str) -> list[tuple[str, str, str | None]]:
    lines = on_store(url, lambda store: store.history(knock_id))
    return [(line.event, line.actor, line.detail) for line in lines]


def run(homeserver: FakeHomeserver, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = main(list(argv), transport=homeserver.transport)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, [json.loads(line) for line in out.splitlines()], err


def test_knocks_lists_json_lines_newest_first_filtered_without_a_room_or_sign_in(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NEW_ROOM_ID")
    monkeypatch.setenv("MATRIX_BASE_URL", "https://hs.invalid")  # nobody answers there
    add_knock(database, "k1", ALICE, State.REVIEW, 1000.0, "fuzzy_match")
    add_knock(database, "k2", BOB, State.INVITED, 2000.0)
    add_knock(database, "k3", f"@carol:{SERVER}", State.REVIEW, 3000.0, "join_wave")

    assert main(["knocks"]) == 0
    every = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [k["knock_id"] for k in every] == ["k3", "k2", "k1"]
    assert list(every[2]) == VIEW_KEYS
    assert every[2] | {"updated_at": None} == {
        "knock_id": "k1",
        "user_id": ALICE,
        "state": "review",
        "reason": "fuzzy_match",
        "source": "tally",
        "door": "default",
        "received_at": "1970-01-01T00:16:40Z",
        "updated_at": None,
    }

    for argv, expected in [
        (["--state", "review"], ["k3", "k1"]),
        (["--reason", "fuzzy_match"], ["k1"]),
        (["--user-id", BOB], ["k2"]),
        (["--limit", "1"], ["k3"]),
        (["--state", "joined"], []),
    ]:
        assert main(["knocks", *argv]) == 0
        out = capsys.readouterr().out
        assert [json.loads(line)["knock_id"] for line in out.splitlines()] == expected, argv


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["knocks", "--state", "lost"], "invalid choice: 'lost'"),
        (["knocks", "--limit", "0"], "'0' is not a whole number from 1 to 100000"),
        (["approve"], "the following arguments are required: KNOCK_ID"),
    ],
)
def test_bad_input_is_a_usage_line_and_status_2(
    database: str, capsys: pytest.CaptureFixture[str], argv: list[str], problem: str
) -> None:
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert problem in err.splitlines()[-1] and "Traceback" not in err


@pytest.mark.parametrize("command", ["approve", "deny"])
def test_approve_and_deny_by_knock_id_record_the_shell_user(
    database: str, homeserver: FakeHomeserver, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    add_knock(database, "k1", ALICE, State.REVIEW, 1000.0, "fuzzy_match")

    code, [shown], err = run(homeserver, capsys, command, "k1", "--note", "looked at it")

    assert code == 0, err
    state = State.QUEUED if command == "approve" else State.REJECTED
    assert (shown["knock_id"], shown["state"]) == ("k1", state.value)
    assert list(shown) == VIEW_KEYS
    assert knock_of(database, "k1").state is state
    event = Event.APPROVED if command == "approve" else Event.DENIED
    assert (event.value, f"cli:{MOD}", "looked at it") in actors(database, "k1")
    assert homeserver.calls("kick") == []  # a form's knock is turned down silently


def test_a_matrix_id_stands_for_its_one_knock_in_review(
    database: str, homeserver: FakeHomeserver, capsys: pytest.CaptureFixture[str]
) -> None:
    add_knock(database, "old", ALICE, State.REJECTED, 1000.0, "denied")
    add_knock(database, "k2", ALICE, State.REVIEW, 2000.0, "fuzzy_match")

    code, [shown], err = run(homeserver, capsys, "approve", ALICE)

    assert (code, shown["knock_id"], shown["state"]) == (0, "k2", "queued"), err
    assert knock_of(database, "old").state is State.REJECTED


def test_a_matrix_id_without_a_knock_in_review_is_one_line_and_status_1(
    database: str, homeserver: FakeHomeserver, capsys: pytest.CaptureFixture[str]
) -> None:
    add_knock(database, "k1", ALICE, State.INVITED, 1000.0)

    code, out, err = run(homeserver, capsys, "deny", ALICE)

    assert (code, out) == (1, [])
    assert err == f"knock: {ALICE} has no knock waiting for review\n"
    assert knock_of(database, "k1").state is State.INVITED


def test_a_matrix_id_with_several_knocks_in_review_lists_them_and_decides_none(
    database: str, homeserver: FakeHomeserver, capsys: pytest.CaptureFixture[str]
) -> None:
    add_knock(database, "k1", ALICE, State.REVIEW, 1000.0, "fuzzy_match")
    add_knock(database, "k2", ALICE, State.REVIEW, 2000.0, "join_wave")

    code, out, err = run(homeserver, capsys, "approve", ALICE)

    assert (code, out) == (1, [])
    assert err == (f"knock: {ALICE} has 2 knocks waiting for review (k2, k1); give one knock id\n")
    assert {knock_of(database, k).state for k in ("k1", "k2")} == {State.REVIEW}


@pytest.mark.parametrize(
    ("knock", "problem"),
    [
        ("nope", "knock: no knock has the id 'nope'\n"),
        ("k1", "knock: knock k1 is not waiting for review (it is invited)\n"),
    ],
)
def test_a_knock_that_is_not_in_review_is_one_line_and_status_1(
    database: str,
    homeserver: FakeHomeserver,
    capsys: pytest.CaptureFixture[str],
    knock: str,
    problem: str,
) -> None:
    add_knock(database, "k1", ALICE, State.INVITED, 1000.0)

    assert run(homeserver, capsys, "approve", knock) == (1, [], problem)


def test_a_homeserver_that_refuses_is_one_line_not_a_traceback(
    database: str, homeserver: FakeHomeserver, capsys: pytest.CaptureFixture[str]
) -> None:
    add_knock(database, "k1", ALICE, State.INVITED, 1000.0)
    homeserver.set_membership(ROOM, ALICE, "invite", by=BOT)
    homeserver.down("kick")

    code, out, err = run(homeserver, capsys, "rescind", ALICE)

    assert (code, out) == (1, [])
    assert len(err.splitlines()) == 1 and err.startswith("knock: ")


def test_rescind_revokes_the_invite_and_records_the_shell_user(
    database: str, homeserver: FakeHomeserver, capsys: pytest.CaptureFixture[str]
) -> None:
    add_knock(database, "k1", ALICE, State.INVITED, 1000.0)
    homeserver.set_membership(ROOM, ALICE, "invite", by=BOT)

    code, [shown], err = run(homeserver, capsys, "rescind", ALICE, "--reason", "wrong person")

    assert code == 0, err
    assert shown == {"status": "rescinded", "user_id": ALICE, "knock_id": "k1", "was": "invited"}
    assert homeserver.membership(ROOM, ALICE) == "leave"
    assert knock_of(database, "k1").state is State.RESCINDED
    assert (Event.RESCINDED.value, f"cli:{MOD}", "wrong person") in actors(database, "k1")


@pytest.mark.parametrize(
    ("user_id", "code", "problem"),
    [
        (BOB, 1, f"knock: {BOB} has no pending invite and is not a member\n"),
        (BOT, 2, f"knock: {BOT} is Knock's own account: it stays in the room\n"),
        ("not an id!", 2, "knock: 'not an id!' is not a Matrix ID: "),
    ],
)
def test_rescind_says_in_one_line_why_it_did_nothing(
    database: str,
    homeserver: FakeHomeserver,
    capsys: pytest.CaptureFixture[str],
    user_id: str,
    code: int,
    problem: str,
) -> None:
    answer, out, err = run(homeserver, capsys, "rescind", user_id)

    assert (answer, out) == (code, [])
    assert err.startswith(problem) and len(err.splitlines()) == 1


def stored(url: str) -> list[StoredEntry]:
    entries: list[StoredEntry] = on_store(url, lambda store: store.blocklist.entries())
    return entries


def test_allow_and_unallow_work_on_the_database_alone_as_the_api_does(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NEW_ROOM_ID")

    assert main(["allow", " @Friend:HS.test ", "--reason", "known"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "status": "allowed",
        "entry": {"user_id": f"@friend:{SERVER}", "reason": "known"},
    }
    [entry] = stored(database)
    assert (entry.pattern, entry.allow, entry.source) == (f"@friend:{SERVER}", True, f"cli:{MOD}")

    assert main(["unallow", f"@friend:{SERVER}"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "status": "removed",
        "entry": f"@friend:{SERVER}",
    }
    assert stored(database) == []

    assert main(["unallow", f"@friend:{SERVER}"]) == 1
    assert capsys.readouterr().err == f"knock: @friend:{SERVER} is not on the allow-list\n"
    assert main(["allow", "@*:*"]) == 2
    assert "would match anyone on any server" in capsys.readouterr().err


def test_block_records_the_shell_user_as_the_entry_source_and_the_knocks_actor(
    database: str, homeserver: FakeHomeserver, capsys: pytest.CaptureFixture[str]
) -> None:
    add_knock(database, "k1", ALICE, State.REVIEW, 1000.0, "fuzzy_match")

    code, [shown], err = run(homeserver, capsys, "block", ALICE, "--reason", "spam")

    assert code == 0, err
    assert shown["entry"] == {
        "user_id": ALICE,
        "reason": "spam",
        "source": f"cli:{MOD}",
        "door": None,  # an entry of every door
    }
    assert (Event.BLOCKED.value, f"cli:{MOD}", "spam") in actors(database, "k1")
    assert run(homeserver, capsys, "unblock", ALICE)[0] == 0


def audit(url: str) -> list[tuple[str, str, str | None, str | None]]:
    """The console audit's rows, newest first: (actor, action, target, note)."""

    async def read(store: Store) -> list[tuple[str, str, str | None, str | None]]:
        page = await Audit(store).actions(AuditFilter())
        return [(row.actor, row.action, row.target, row.detail) for row in page.rows]

    rows: list[tuple[str, str, str | None, str | None]] = on_store(url, read)
    return rows


def test_unblock_and_unallow_are_in_the_console_audit_as_the_shell_user(
    database: str, homeserver: FakeHomeserver, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(homeserver, capsys, "block", ALICE, "--reason", "spam")[0] == 0
    assert main(["allow", BOB]) == 0
    capsys.readouterr()

    assert run(homeserver, capsys, "unblock", ALICE)[0] == 0
    assert main(["unallow", BOB]) == 0

    assert audit(database) == [
        (f"cli:{MOD}", "unallow", BOB, f"allowed by cli:{MOD}"),
        (f"cli:{MOD}", "unblock", ALICE, f"blocked by cli:{MOD}: spam"),
    ]


def test_the_actor_falls_back_to_the_uid_and_old_cli_lines_still_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert str(cli.cli_actor()) == f"cli:{getpass.getuser()}"

    def unknown() -> str:
        raise OSError("No username set in the environment")

    monkeypatch.setattr(getpass, "getuser", unknown)
    monkeypatch.setattr(cli.os, "getuid", lambda: 1234, raising=False)
    assert str(cli.cli_actor()) == "cli:1234"
    assert Actor.parse("cli") == Actor(ActorKind.CLI)
    assert Actor.parse("cli:mod") == Actor.cli("mod")


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out == f"knock {__version__}\n"


def test_the_source_version_is_pyprojects() -> None:
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    assert f'version = "{__version__}"' in pyproject.read_text().split("[project]")[1]


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("knocks", "(default: 100)"),
        ("serve", "(default: 127.0.0.1)"),
        ("approve", "KNOCK_ID"),
        ("rescind", "--reason REASON"),
    ],
)
def test_every_command_and_option_has_help_and_defaults_are_shown(
    capsys: pytest.CaptureFixture[str], command: str, shown: str
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert shown in capsys.readouterr().out


def test_no_command_or_option_is_without_help() -> None:
    parser = cli._parser()
    [commands] = [a for a in parser._actions if a.dest == "==SUPPRESS==" and a.choices]
    assert isinstance(commands.choices, dict)
    for name, sub in commands.choices.items():
        assert sub.description, name
        for action in sub._actions:
            assert action.help, f"knock {name} {action.option_strings or action.dest}"


CLUB_ROOM = f"!club:{SERVER}"


@pytest.fixture
def club(
    database: str, tmp_path: Path, homeserver: FakeHomeserver, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A second door, `club`, into a room of its own."""
    path = tmp_path / "doors.toml"
    path.write_text(f'[doors.club]\nroom = "{CLUB_ROOM}"\n', encoding="utf-8")
    monkeypatch.setenv("DOORS_FILE", str(path))
    homeserver.create_room(BOT, room_id=CLUB_ROOM)
    return "club"


def test_knocks_door_narrows_the_list_to_one_doors_knocks(
    club: str, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    add_knock(database, "k1", ALICE, State.REVIEW, 1000.0, "fuzzy_match")
    add_knock(database, "k2", BOB, State.INVITED, 2000.0, door=club)
    add_knock(database, "k3", ALICE, State.REVIEW, 3000.0, "fuzzy_match", door=club)

    for argv, expected in [
        (["--door", club], [("k3", club), ("k2", club)]),
        (["--door", "default"], [("k1", "default")]),
        (["--door", club, "--state", "invited"], [("k2", club)]),
        ([], [("k3", club), ("k2", club), ("k1", "default")]),
    ]:
        assert main(["knocks", *argv]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [(k["knock_id"], k["door"]) for k in lines] == expected, argv


def test_a_matrix_id_with_knocks_in_review_at_two_doors_needs_door(
    club: str, database: str, homeserver: FakeHomeserver, capsys: pytest.CaptureFixture[str]
) -> None:
    add_knock(database, "k1", ALICE, State.REVIEW, 1000.0, "fuzzy_match")
    add_knock(database, "k2", ALICE, State.REVIEW, 2000.0, "join_wave", door=club)

    code, out, err = run(homeserver, capsys, "approve", ALICE)

    assert (code, out) == (1, [])
    assert err == (
        f"knock: {ALICE} has knocks waiting for review at 2 doors (k2 at club, k1 at default); "
        "give --door NAME or one knock id\n"
    )
    assert {knock_of(database, k).state for k in ("k1", "k2")} == {State.REVIEW}

    code, [shown], err = run(homeserver, capsys, "deny", ALICE, "--door", club)

    assert (code, shown["knock_id"], shown["door"], shown["state"]) == (0, "k2", club, "rejected")
    assert knock_of(database, "k1").state is State.REVIEW
    code, out, err = run(homeserver, capsys, "approve", ALICE, "--door", club)
    assert (code, out) == (1, [])
    assert err == f"knock: {ALICE} has no knock waiting for review at door club\n"
    code, [shown], err = run(homeserver, capsys, "approve", ALICE, "--door", "default")
    assert (code, shown["knock_id"], shown["state"]) == (0, "k1", "queued"), err


def test_a_knock_id_at_another_door_than_door_is_not_decided(
    club: str, database: str, homeserver: FakeHomeserver, capsys: pytest.CaptureFixture[str]
) -> None:
    add_knock(database, "k1", ALICE, State.REVIEW, 1000.0, "fuzzy_match")

    code, out, err = run(homeserver, capsys, "approve", "k1", "--door", club)

    assert (code, out) == (1, [])
    assert err == "knock: knock k1 came through door default, not club\n"
    assert knock_of(database, "k1").state is State.REVIEW


def test_rescind_at_a_door_revokes_the_invite_in_that_doors_room_only(
    club: str, database: str, homeserver: FakeHomeserver, capsys: pytest.CaptureFixture[str]
) -> None:
    add_knock(database, "k1", ALICE, State.INVITED, 1000.0)
    add_knock(database, "k2", ALICE, State.INVITED, 2000.0, door=club)
    homeserver.set_membership(ROOM, ALICE, "invite", by=BOT)
    homeserver.set_membership(CLUB_ROOM, ALICE, "invite", by=BOT)

    code, [shown], err = run(homeserver, capsys, "rescind", ALICE, "--door", "default")

    assert code == 0, err
    assert shown == {"status": "rescinded", "user_id": ALICE, "knock_id": "k1", "was": "invited"}
    assert homeserver.membership(ROOM, ALICE) == "leave"
    assert homeserver.membership(CLUB_ROOM, ALICE) == "invite"
    assert (knock_of(database, "k1").state, knock_of(database, "k2").state) == (
        State.RESCINDED,
        State.INVITED,
    )
    code, out, err = run(homeserver, capsys, "rescind", BOB, "--door", club)
    assert (code, out) == (1, [])
    assert err == f"knock: {BOB} has no pending invite and is not a member at door club\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["knocks", "--door", "book-club"],
        ["approve", ALICE, "--door", "book-club"],
        ["deny", "k1", "--door", "book-club"],
        ["rescind", ALICE, "--door", "book-club"],
    ],
)
def test_a_door_knock_does_not_have_is_one_line_and_status_2(
    club: str,
    database: str,
    homeserver: FakeHomeserver,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    add_knock(database, "k1", ALICE, State.REVIEW, 1000.0, "fuzzy_match")

    code, out, err = run(homeserver, capsys, *argv)

    assert (code, out) == (2, [])
    assert err == "knock: no door is named 'book-club'; Knock's doors: default, club\n"
    assert knock_of(database, "k1").state is State.REVIEW
    assert homeserver.requests == []  # refused before Knock started


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("knocks", "only the knocks through this door (default: every door)"),
        ("approve", "(default: any door)"),
        ("rescind", "the default door)"),
    ],
)
def test_door_options_say_what_they_default_to(
    capsys: pytest.CaptureFixture[str], command: str, shown: str
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "--door NAME" in (out := capsys.readouterr().out)
    assert shown in " ".join(out.split())

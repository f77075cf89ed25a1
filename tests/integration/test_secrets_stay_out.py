"""No secret ever shows where it should not, in text or JSON logs, against a real Synapse.

A deployed Knock (a real process, its standard error captured) is given a unique marker for every
secret setting, signs its bot in with a password, and goes through a whole flow: knocks by
webhook (token, signature, refused ones), by the knock page (whose status link is a secret), a
429, a block, the console signed in with the key and with a sign-in link sent by direct message.
Then its log, every HTTP answer (status, headers, body; `scanned_gets` lists the pages fetched
at the end, `/metrics` among them) and the list files it writes are searched
for every marker, and for the bot's access token, the status link's token, the sign-in link's
token and the console's session cookie. The database and the token file hold the token by
design, so they are not searched; a secret Knock makes for a person may be in the answer that
hands it over, and in the answers to a request that already carries it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from knock_testing.signing import sign_tally
from knock_testing.synapse import Sandbox, SandboxUser, free_port
from tests.conftest import MakeUser
from tests.integration.harness import ROOT, tally_delivery, wait_for

# Every secret setting the flow can hold, each to its own marker.
SECRET_SETTINGS = [
    "API_KEY",
    "WEBHOOK_TOKEN",
    "TALLY_SIGNING_SECRET",
    "TYPEFORM_SECRET",
    "FORMBRICKS_SECRET",
    "MATRIX_PASSWORD",
    "BEEPER_LOGIN_TOKEN",
    "METRICS_TOKEN",
]
SAME_SITE = {"Sec-Fetch-Site": "same-origin"}
# How each run is launched: both ways a deployment starts Knock, one per format.
LAUNCHES = {
    "text": [sys.executable, "-m", "uvicorn", "mknock:app"],
    "json": [sys.executable, "-m", "knock", "serve"],
}


@dataclass
class Seen:
    """One answer Knock gave, as text to search, and the secrets it may show by design."""

    what: str
    text: str
    may_show: set[str] = field(default_factory=set)


@dataclass
class Recorder:
    """Every answer a client got, kept whole."""

    seen: list[Seen] = field(default_factory=list)

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.multi_items())
        text = f"{response.status_code}\n{headers}\n\n{response.text}"
        # A secret the request carries in its address is the caller's already (a status link,
        # a sign-in link they open): the page it opens may show it.
        self.seen.append(Seen(f"{request.method} {request.url.path}", text, {str(request.url)}))


def findings(secrets: dict[str, str], places: dict[str, Seen]) -> list[str]:
    """Name each secret found in each place, unless that place may show it, with what is
    around it (the secret itself shown by its name)."""
    return [
        f"{name} in {where}: ...{_around(place.text, value, name)}..."
        for name, value in secrets.items()
        for where, place in places.items()
        if value in place.text and not any(value in allowed for allowed in place.may_show)
    ]


def _around(text: str, value: str, name: str) -> str:
    at = text.index(value)
    return text[max(0, at - 150) : at + len(value) + 50].replace(value, f"<{name}>")


def test_the_scan_finds_a_marker_planted_where_it_looks() -> None:
    secrets = {"API_KEY": "marker-" + uuid.uuid4().hex}
    planted = {"control": Seen("control", f"200\n\nhello {secrets['API_KEY']} world")}
    clean = {"control": Seen("control", "200\n\nhello world")}
    held = {"control": Seen("GET /x", planted["control"].text, {f"/x/{secrets['API_KEY']}"})}

    assert findings(secrets, planted) == ["API_KEY in control: ...200\n\nhello <API_KEY> world..."]
    assert findings(secrets, clean) == []
    assert findings(secrets, held) == []


@contextmanager
def launched(command: list[str], env: dict[str, str], tmp_path: Path, port: int) -> Iterator[Path]:
    """Run Knock until it is ready; yield its log (standard error); stop it (SIGINT) after."""
    log = tmp_path / "stderr.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=env, cwd=tmp_path, stdout=out, stderr=out
        )

    def ready() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(ready, lambda: "Knock to be ready: " + log.read_text())
        yield log
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)


def dm_link(synapse: Sandbox, person: SandboxUser, bot_id: str, url: str) -> str:
    """Join the bot's direct chat as the person and read the sign-in link in it."""
    rooms: list[str] = []

    def invited() -> bool:
        unique = {"account_data": {"not_types": [f"knock.test.{uuid.uuid4().hex}"]}}
        params = {"timeout": "0", "filter": json.dumps(unique)}
        sync = synapse.api("GET", "/_matrix/client/v3/sync", user=person, params=params).json()
        rooms[:] = list(sync.get("rooms", {}).get("invite", {}))
        return bool(rooms)

    wait_for(invited, "the bot's direct message")
    synapse.join(person, rooms[0])
    path = f"/_matrix/client/v3/rooms/{quote(rooms[0], safe='')}/messages"
    prefix = url + "/console/link/"

    def link() -> str | None:
        chunk = synapse.api("GET", path, user=person, params={"dir": "b"}).json()["chunk"]
        bodies = [str(e["content"].get("body", "")) for e in chunk if e["sender"] == bot_id]
        found = [b[b.index(prefix) :].split()[0] for b in bodies if prefix in b]
        return found[0] if found else None

    return wait_for(link, "the sign-in link")


def set_power(synapse: Sandbox, bot: SandboxUser, room: str, user_id: str, level: int) -> None:
    path = f"/_matrix/client/v3/rooms/{quote(room, safe='')}/state/m.room.power_levels/"
    levels = synapse.api("GET", path, user=bot).json()
    levels.setdefault("users", {})[user_id] = level
    assert synapse.api("PUT", path, user=bot, json=levels).status_code == 200


@pytest.mark.slow
@pytest.mark.no_database  # its own SQLite file: about what is shown, not about engines
@pytest.mark.parametrize("log_format", list(LAUNCHES))
def test_no_secret_reaches_the_logs_the_answers_or_the_list_files(
    log_format: str,
    tmp_path: Path,
    synapse: Sandbox,
    synapse_admin: SandboxUser,
    make_user: MakeUser,
) -> None:
    secrets = {name: f"{name.lower()}-marker-{uuid.uuid4().hex}" for name in SECRET_SETTINGS}
    # The bot signs in with the password, so Knock holds a token of its own making.
    bot = synapse.register(f"knockbot-{uuid.uuid4().hex[:10]}", password=secrets["MATRIX_PASSWORD"])
    synapse.lift_rate_limits(synapse_admin, bot.user_id)
    room = synapse.create_room(bot)
    moderator, member, person = make_user("mod"), make_user("member"), make_user("knocker")
    for joining in (moderator, member):
        synapse.invite(bot, room, joining.user_id)
        synapse.join(joining, room)
    set_power(synapse, bot, room, moderator.user_id, 50)
    lists = [tmp_path / "blocked.txt", tmp_path / "allowed.txt"]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "NEW_ROOM_ID": room,
        "MATRIX_BASE_URL": synapse.base_url,
        "MATRIX_USER_ID": bot.user_id,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'knock.db'}",
        "TOKENS_FILE": str(tmp_path / "tokens.json"),
        "BLOCKLIST_FILE": str(lists[0]),
        "ALLOWLIST_FILE": str(lists[1]),
        "PUBLIC_URL": url,
        "REQUEST_DELAY": "0",
        "LIMIT_PER_IP": "2/1h",
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": log_format,
        **secrets,
    }
    recorder = Recorder()
    key = {"Authorization": f"Bearer {secrets['API_KEY']}"}
    made: dict[str, str] = {}  # the secrets Knock makes: token, status link, sign-in link, cookie
    with (
        launched(LAUNCHES[log_format], env, tmp_path, port) as log,
        httpx.Client(base_url=url, event_hooks={"response": [recorder]}, timeout=30) as http,
    ):
        made["the bot's access token"] = json.loads((tmp_path / "tokens.json").read_text())[
            "access_token"
        ]
        token = secrets["WEBHOOK_TOKEN"]

        # Knocks: a token in the query and in the header, a platform's signature.
        answer = http.post(f"/invite_from_form?token={token}", json={"matrix_id": person.user_id})
        assert answer.status_code == 202, answer.text
        answer = http.post(
            "/invite_from_form",
            json={"matrix_id": make_user("bearer").user_id},
            headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": "203.0.113.9"},
        )
        assert answer.status_code == 202, answer.text
        body, headers = tally_delivery(make_user("tally").user_id)
        headers["Tally-Signature"] = sign_tally(body, secrets["TALLY_SIGNING_SECRET"])
        assert http.post("/invite_from_form", content=body, headers=headers).status_code == 202
        # Refusals: a wrong token, a wrong signature.
        wrong = http.post("/invite_from_form?token=not-the-token", json={"matrix_id": "@a:b.c"})
        assert wrong.status_code == 401
        headers["Tally-Signature"] = sign_tally(body, "not-the-secret")
        assert http.post("/invite_from_form", content=body, headers=headers).status_code == 401

        # The knock page: its answer hands over the status link, whose token is a secret.
        page_knock = http.post(
            "/knock", data={"matrix_id": make_user("page").user_id}, headers=SAME_SITE
        )
        assert page_knock.status_code == 303, page_knock.text
        made["a status link's token"] = page_knock.headers["location"].rsplit("/", 1)[1]
        recorder.seen[-1].may_show.add(made["a status link's token"])
        assert http.get(page_knock.headers["location"]).status_code == 200
        # A 429: LIMIT_PER_IP is 2/1h and the page's knock was the first of this address.
        form = {"matrix_id": make_user("html").user_id}
        assert http.post("/invite_from_form", data=form).status_code in (202, 303)
        form = {"matrix_id": make_user("html").user_id}
        limited = http.post("/invite_from_form", data=form)
        assert limited.status_code == 429, limited.text

        # The console, signed in with the key: a block from its block-list page.
        console = httpx.Client(base_url=url, event_hooks={"response": [recorder]}, timeout=30)
        with console:
            signed = console.post(
                "/console/sign-in", data={"api_key": secrets["API_KEY"]}, headers=SAME_SITE
            )
            assert signed.status_code == 303, signed.text
            (made["the console's session cookie"],) = list(console.cookies.values())
            recorder.seen[-1].may_show.add(made["the console's session cookie"])  # Set-Cookie
            page = console.get("/console/blocklist")
            csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            blocked = console.post(
                "/console/blocklist/block",
                data={"csrf": csrf, "pattern": member.user_id, "reason": "spam", "go": "1"},
                headers=SAME_SITE,
            )
            assert blocked.status_code == 303, blocked.text
            for path in ("/console/", "/console/review", "/console/knocks", "/console/audit"):
                console.get(path)

        # A sign-in link, sent to the moderator by direct message, opened and used.
        asked = http.post(
            "/console/sign-in-link", data={"matrix_id": moderator.user_id}, headers=SAME_SITE
        )
        assert asked.status_code == 200, asked.text
        link = dm_link(synapse, moderator, bot.user_id, url)
        made["a sign-in link's token"] = link.rsplit("/", 1)[1]
        with httpx.Client(event_hooks={"response": [recorder]}, timeout=30) as browser:
            assert browser.get(link).status_code == 200
            assert browser.post(link, headers=SAME_SITE).status_code == 303
            assert browser.get(url + "/console/").status_code == 200

        # The worker has invited the first knock (its job's lines are logged meanwhile).
        def invited() -> bool:
            return synapse.members(bot, room, "invite").get(person.user_id) == "invite"

        wait_for(invited, "the invite")
        wait_for(  # the file is written by the first tick after start-up, then every 20 s
            lambda: lists[0].exists() and member.user_id in lists[0].read_text(),
            "the block in BLOCKLIST_FILE",
        )
        # The other answers anyone may fetch, or the admin: one list, extended as routes come.
        for path, headers in scanned_gets(secrets, key):
            assert http.get(path, headers=headers).status_code == 200, path

    logged = log.read_text()
    places = {"the log": Seen("log", logged)}
    places |= {f"{seen.what} (answer {n})": seen for n, seen in enumerate(recorder.seen)}
    places |= {path.name: Seen(path.name, path.read_text()) for path in lists if path.exists()}
    assert findings({**secrets, **made}, places) == []
    # The scan looked where the secrets went by: the requests that carried them were logged.
    assert "/invite_from_form?token=REDACTED" in logged
    assert "/knock/REDACTED" in logged and "/console/link/REDACTED" in logged
    if log_format == "json":
        lines = [json.loads(line) for line in logged.splitlines()]
        assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
        assert any(
            line.get("job", "").startswith("invite:") and line.get("knock_id") for line in lines
        ), logged
        assert any(line.get("door") == "default" for line in lines), logged


def scanned_gets(secrets: dict[str, str], key: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """Every other answer the scan reads: public pages, the admin API, `/metrics`."""
    gets = [
        ("/", {}),
        ("/readyz", {}),
        ("/readyz", key),
        ("/knock", {}),
        ("/knocks?limit=50", key),
        ("/blocklist", key),
        ("/openapi.json", {}),
        ("/metrics", {"Authorization": f"Bearer {secrets['METRICS_TOKEN']}"}),
    ]
    return gets

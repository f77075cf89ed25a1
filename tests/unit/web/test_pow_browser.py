"""`knock/web/static/pow.js` in a real browser: forms held back, solved, sent with the proof.

Headless Chromium opens pages served from loopback under a strict Content-Security-Policy (no
inline script); the page's own script presses the form's button and sends what it saw at the
script's events to /report. Skipped, saying so, where Chromium is not installed.
"""

from __future__ import annotations

import json
import queue
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from knock.core.pow import Passed, check, issue
from knock_testing.browser import Chromium, Posted, Site, find_chromium

SCRIPT = (Path(__file__).resolve().parents[3] / "knock" / "web" / "static" / "pow.js").read_bytes()
KEY = b"browser test key"
BITS = 12
TIMEOUT = 60.0
JS = "text/javascript"
HTML = "text/html; charset=utf-8"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed"),
]

# The page's own script: press the button once loaded, report what the form looked like.
DRIVE = b"""
function report(kind, event) {
  var form = event.target;
  var status = form.querySelector("[role=status]");
  navigator.sendBeacon("/report", JSON.stringify({
    kind: kind,
    detail: event.detail,
    status: status ? status.textContent : null,
    disabled: form.querySelector("button").disabled,
  }));
}
document.addEventListener("knock-pow:solved", function (event) { report("solved", event); });
document.addEventListener("knock-pow:error", function (event) { report("error", event); });
window.addEventListener("load", function () { document.querySelector("button").click(); });
"""

# Someone who fills the form in first: the work starts when the field gets focus.
DRIVE_LATER = DRIVE.replace(
    b'window.addEventListener("load", function () { document.querySelector("button").click(); });',
    b"""window.addEventListener("load", function () {
  document.querySelector("input").focus();
  setTimeout(function () { document.querySelector("button").click(); }, 3000);
});""",
)


def page(script_src: str, form_attributes: str, copies: int = 1) -> bytes:
    scripts = f'<script src="{script_src}" defer></script>\n' * copies
    return f"""<!doctype html>
<meta charset="utf-8">
<title>Knock</title>
{scripts}<script src="/drive.js" defer></script>
<form method="post" {form_attributes}>
  <input name="matrix_id" value="@someone:example.org">
  <button name="go" value="yes">Knock</button>
</form>
""".encode()


def fields(posted: Posted) -> dict[str, str]:
    assert posted.content_type == "application/x-www-form-urlencoded"
    return {name: values[0] for name, values in parse_qs(posted.body.decode()).items()}


def posts(site: Site, count: int, chromium: Chromium) -> dict[str, Posted]:
    """The next `count` POSTs to `site`, by path."""
    found = {}
    for _ in range(count):
        try:
            posted = site.next_post(TIMEOUT)
        except queue.Empty:
            pytest.fail(chromium.log.read_text(errors="replace")[-3000:])
        found[posted.path] = posted
    return found


def report(posted: Posted) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(posted.body)
    return answer


@pytest.mark.parametrize(
    ("policy", "where"),
    [
        ("default-src 'self'", "worker"),
        # A policy that forbids workers: the page solves in slices itself.
        ("default-src 'self'; worker-src 'none'", "page"),
    ],
)
def test_a_form_is_sent_with_its_proof_and_the_button_pressed(policy: str, where: str) -> None:
    challenge = issue(KEY, 0.0, BITS, ttl=10**10)
    files = {
        "/": (page("/pow.js", f'action="/submit" data-knock-pow="{challenge.text}"'), HTML),
        "/pow.js": (SCRIPT, JS),
        "/drive.js": (DRIVE, JS),
    }
    with (
        Site(files, {"Content-Security-Policy": policy}) as site,
        Chromium(site.url + "/") as chromium,
    ):
        got = posts(site, 2, chromium)

    sent = fields(got["/submit"])
    assert sent["matrix_id"] == "@someone:example.org"
    assert sent["go"] == "yes"  # the button pressed still goes along
    assert sent["pow_challenge"] == challenge.text
    assert check(KEY, sent["pow_challenge"], sent["pow_nonce"], 1.0, BITS) == Passed(
        challenge.challenge_id, challenge.expires_at
    )
    seen = report(got["/report"])
    assert seen["kind"] == "solved"
    assert seen["detail"]["where"] == where
    assert seen["detail"]["nonce"] == sent["pow_nonce"]
    # While it worked: the button held, the status said so.
    assert seen["status"] == "Checking your browser\u2026 this takes a moment."
    assert seen["disabled"] is True


def test_a_form_elsewhere_fetches_its_challenge_and_solves_on_its_own_page() -> None:
    challenge = issue(KEY, 0.0, BITS, ttl=10**10)
    knock_files = {
        "/pow.js": (SCRIPT, JS),
        "/challenge": (json.dumps({"challenge": challenge.text}).encode(), "application/json"),
    }
    with Site(knock_files, {"Access-Control-Allow-Origin": "*"}) as knock:
        attributes = f'action="{knock.url}/submit" data-knock-pow-url="{knock.url}/challenge"'
        files = {"/": (page(f"{knock.url}/pow.js", attributes), HTML), "/drive.js": (DRIVE, JS)}
        allow = f"'self' {knock.url}"
        policy = f"default-src 'self'; script-src {allow}; connect-src {allow}"
        with (
            Site(files, {"Content-Security-Policy": policy}) as form_site,
            Chromium(form_site.url + "/") as chromium,
        ):
            seen = report(posts(form_site, 1, chromium)["/report"])
            sent = fields(posts(knock, 1, chromium)["/submit"])

    assert isinstance(check(KEY, sent["pow_challenge"], sent["pow_nonce"], 1.0, BITS), Passed)
    # A worker must come from the page's own origin: this one solves in slices on the page.
    assert (seen["kind"], seen["detail"]["where"]) == ("solved", "page")


def test_when_no_challenge_comes_the_form_stays_and_says_so() -> None:
    files = {
        "/": (page("/pow.js", 'action="/submit" data-knock-pow-url="/nowhere"'), HTML),
        "/pow.js": (SCRIPT, JS),
        "/drive.js": (DRIVE, JS),
    }
    with (
        Site(files, {"Content-Security-Policy": "default-src 'self'"}) as site,
        Chromium(site.url + "/") as chromium,
    ):
        got = posts(site, 1, chromium)
        with pytest.raises(queue.Empty):
            site.next_post(1.0)  # and nothing is submitted

    seen = report(got["/report"])
    assert seen["kind"] == "error"
    assert "404" in seen["detail"]["message"]
    assert seen["status"] == "Your browser could not finish the check. Please try again."
    assert seen["disabled"] is False  # free to try again


def test_the_work_starts_at_the_first_focus_so_sending_is_not_held_up() -> None:
    challenge = issue(KEY, 0.0, BITS, ttl=10**10)
    files = {
        "/": (page("/pow.js", f'action="/submit" data-knock-pow="{challenge.text}"'), HTML),
        "/pow.js": (SCRIPT, JS),
        "/drive.js": (DRIVE_LATER, JS),
    }
    assert DRIVE_LATER != DRIVE
    with (
        Site(files, {"Content-Security-Policy": "default-src 'self'"}) as site,
        Chromium(site.url + "/") as chromium,
    ):
        got = posts(site, 2, chromium)

    seen = report(got["/report"])
    assert seen["detail"]["milliseconds"] < 3000  # done before the button was pressed
    assert seen["status"] == ""  # so there was nothing to wait for
    assert fields(got["/submit"])["pow_nonce"] == seen["detail"]["nonce"]


def test_a_second_copy_of_the_script_leaves_an_enhanced_form_alone() -> None:
    challenge = issue(KEY, 0.0, BITS, ttl=10**10)
    attributes = f'action="/submit" data-knock-pow="{challenge.text}"'
    files = {
        "/": (page("/pow.js", attributes, copies=2), HTML),
        "/pow.js": (SCRIPT, JS),
        "/drive.js": (DRIVE, JS),
    }
    with (
        Site(files, {"Content-Security-Policy": "default-src 'self'"}) as site,
        Chromium(site.url + "/") as chromium,
    ):
        got = posts(site, 2, chromium)
        with pytest.raises(queue.Empty):
            site.next_post(1.5)  # one report, one submission, nothing twice

    assert set(got) == {"/report", "/submit"}

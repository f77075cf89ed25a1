"""Deliveries no form would send, through the webhook route: never a 5xx, never a half-stored knock.

Every platform's fixture is posted signed (or with the webhook token) as that platform would
post it, after a value somewhere in it was replaced, so each one gets past the signature checks
and is really parsed, admitted and stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knock.store import Store
from knock_testing.signing import sign_standard_webhook, sign_tally, sign_typeform
from tests.clock import FakeClock

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "forms"
SECRET = "knock-fixture-secret"
FORMBRICKS_SECRET = "whsec_a25vY2stZml4dHVyZS1zZWNyZXQ="  # the same secret, base64
TOKEN = "hostile-token"
BOUNDARY = "hostile-boundary"
LONE_SURROGATE = "\ud800"
NUL = "\x00"

JsonPath = tuple[str | int, ...]


@pytest.fixture
def knock_options() -> dict[str, Any]:
    # Every platform signs or carries the token, and the answers are stored too.
    return {
        "tally_signing_secret": SECRET,
        "typeform_secret": SECRET,
        "formbricks_secret": FORMBRICKS_SECRET,
        "webhook_token": TOKEN,
        "store_form_answers": True,
    }


def _json_sample(name: str) -> Any:
    return json.loads((FIXTURES / name).read_bytes())


def _jotform_sample() -> dict[str, Any]:
    """Jotform's parts as a JSON-like object, rawRequest decoded so that it can be varied too."""
    lines = (FIXTURES / "jotform.multipart.txt").read_text().splitlines()
    listed = [line.strip().partition("=") for line in lines if line.startswith("  ")]
    parts: dict[str, Any] = {name: value for name, _, value in listed}
    parts["rawRequest"] = json.loads(parts["rawRequest"])
    return parts


def _html_sample() -> dict[str, Any]:
    return {"matrix_id": "@grace:example.org", "website": ""}


def _utf8(text: str) -> bytes:
    """Encode text as UTF-8 bytes, a lone surrogate as the three bytes no decoder accepts."""
    return text.encode("utf-8", "surrogatepass")


def _as_text(value: Any) -> str:
    """A form field's value: text stays text, anything else is sent as its JSON."""
    return value if isinstance(value, str) else json.dumps(value)


class Deliveries:
    """Each platform's fixture as a JSON value, and how that platform would post it."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.samples: dict[str, Callable[[], Any]] = {
            "tally": lambda: _json_sample("tally.json"),
            "typeform": lambda: _json_sample("typeform.json"),
            "formbricks": lambda: _json_sample("formbricks.json"),
            "heyform": lambda: _json_sample("heyform.json"),
            "fillout": lambda: _json_sample("fillout.json"),
            "generic": lambda: _json_sample("generic.json"),
            "jotform": _jotform_sample,
            "html": _html_sample,
        }

    def post(self, platform: str, value: Any) -> tuple[bytes, dict[str, str]]:
        """The body and headers `platform` would send for `value` (its sample, varied)."""
        if platform == "jotform":
            return self._multipart(value)
        if platform == "html":
            pairs = [f"{quote(_utf8(k))}={quote(_utf8(_as_text(v)))}" for k, v in value.items()]
            return "&".join(pairs).encode(), self._token("application/x-www-form-urlencoded")
        body = json.dumps(value).encode()
        if platform == "tally":
            return body, {
                "Content-Type": "application/json",
                "Tally-Signature": sign_tally(body, SECRET),
            }
        if platform == "typeform":
            signature = sign_typeform(body, SECRET)
            return body, {"Content-Type": "application/json", "Typeform-Signature": signature}
        if platform == "formbricks":
            return body, self._standard_webhook(body)
        return body, self._token("application/json")

    def _multipart(self, parts: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        chunks = [
            _utf8(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n')
            + _utf8(_as_text(value))
            + b"\r\n"
            for name, value in parts.items()
        ]
        body = b"".join(chunks) + f"--{BOUNDARY}--\r\n".encode()
        return body, self._token(f"multipart/form-data; boundary={BOUNDARY}")

    def _standard_webhook(self, body: bytes) -> dict[str, str]:
        timestamp = int(self.clock.now())
        msg_id = f"msg_{timestamp}"
        return {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_standard_webhook(body, msg_id, timestamp, FORMBRICKS_SECRET),
        }

    @staticmethod
    def _token(content_type: str) -> dict[str, str]:
        return {"Content-Type": content_type, "Authorization": f"Bearer {TOKEN}"}


PLATFORMS = ("tally", "typeform", "formbricks", "heyform", "fillout", "generic", "jotform", "html")
# Where each sample holds the Matrix ID, and another answer a person typed.
MATRIX_ID_AT: dict[str, JsonPath] = {
    "tally": ("data", "fields", 1, "value"),
    "typeform": ("form_response", "answers", 0, "text"),
    "formbricks": ("data", "data", "matrixid"),
    "heyform": ("answers", 0, "value"),
    "fillout": ("questions", 0, "value"),
    "generic": ("matrix_id",),
    "jotform": ("rawRequest", "q3_matrixId"),
    "html": ("matrix_id",),
}
ANSWER_AT: dict[str, JsonPath] = {
    "tally": ("data", "fields", 0, "value"),
    "typeform": ("form_response", "answers", 1, "text"),
    "formbricks": ("data", "data", "website"),
    "heyform": ("hiddenFields", 0, "value"),
    "fillout": ("questions", 1, "value"),
    "generic": ("submission_id",),
    "jotform": ("rawRequest", "q4_website"),
    "html": ("website",),
}


def paths(value: Any, at: JsonPath = ()) -> list[JsonPath]:
    """Every path into a JSON value, the value itself first."""
    found = [at]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*at, index))
    return found


def replaced(value: Any, at: JsonPath, new: Any) -> Any:
    """A copy of `value` with the value at `at` replaced by `new`."""
    if not at:
        return new
    head, rest = at[0], at[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new)}
    assert isinstance(value, list) and isinstance(head, int)
    copy = list(value)
    copy[head] = replaced(copy[head], rest, new)
    return copy


async def stored_knocks(store: Store) -> int:
    return len(await store.list_knocks(limit=10_000))


async def post(http: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await http.post("/invite_from_form", content=body, headers=headers)


@pytest.mark.parametrize(
    ("bad", "said"),
    # The NUL is stored by SQLite but refused by PostgreSQL: both engines must answer alike.
    [(LONE_SURROGATE, "not valid"), (NUL, "NUL")],
    ids=["lone-surrogate", "nul"],
)
@pytest.mark.parametrize("where", ["matrix_id", "answer"])
@pytest.mark.parametrize("platform", PLATFORMS)
async def test_unstorable_text_is_a_400_and_nothing_is_stored(
    http: httpx.AsyncClient,
    store: Store,
    clock: FakeClock,
    platform: str,
    where: str,
    bad: str,
    said: str,
) -> None:
    deliveries = Deliveries(clock)
    at = (MATRIX_ID_AT if where == "matrix_id" else ANSWER_AT)[platform]
    typed = "@alice:example.org" if where == "matrix_id" else "An answer"
    fine = replaced(deliveries.samples[platform](), at, typed)
    hostile = replaced(fine, at, typed[:3] + bad + typed[3:])

    answer = await post(http, *deliveries.post(platform, hostile))

    assert answer.status_code == 400, answer.text
    assert said in answer.json()["detail"]
    assert await stored_knocks(store) == 0
    assert await store.count_jobs() == 0
    # The same delivery without that character is taken: the 400 was for the text alone.
    assert (await post(http, *deliveries.post(platform, fine))).status_code == 202


# Lone surrogates, alone and inside ordinary text, which is what JSON's "\ud800" escapes give.
_SURROGATES = st.text(
    alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1
)
_TEXT = st.one_of(
    st.lists(st.one_of(st.text(max_size=4), _SURROGATES), min_size=1, max_size=4).map("".join),
    st.text(),
    st.sampled_from(["@alice:example.org", "@bob:hs.test", "", " ", "matrix_id"]),
)
# Half the leaves are text, where the trouble is; the other half every other JSON scalar.
_SCALARS = st.one_of(
    _TEXT,
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        # Up to the 4,300 digits Python converts: json.dumps cannot write a longer one.
        st.integers(min_value=-(10**4000), max_value=10**4000),
        st.floats(),  # NaN and the infinities too, which json.loads accepts
    ),
)
# A scalar as often as a nested value: most of a form's values are scalars, read as they are.
JSON_VALUES = st.one_of(
    _SCALARS,
    st.recursive(
        _SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(_TEXT, children, max_size=4)
        ),
        max_leaves=12,
    ),
)


@pytest.mark.parametrize("platform", PLATFORMS)
# One runtime serves every example of a platform, on purpose: deliveries pile up in one store as
# they would in production, and starting a runtime per example would be far too slow.
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
async def test_no_delivery_gets_a_server_error(
    http: httpx.AsyncClient, store: Store, clock: FakeClock, platform: str, data: st.DataObject
) -> None:
    deliveries = Deliveries(clock)
    sample = deliveries.samples[platform]()
    # A form body is a list of fields: there is no replacing it as a whole.
    choices = paths(sample)[0 if platform not in ("jotform", "html") else 1 :]
    at = data.draw(st.sampled_from(choices), label="path")
    value = data.draw(JSON_VALUES, label="value")

    answer = await post(http, *deliveries.post(platform, replaced(sample, at, value)))

    assert answer.status_code < 500, answer.text
    if answer.status_code == 202:
        knock_id = answer.json()["knock_id"]
        assert await store.get_knock(knock_id) is not None


async def test_headers_and_the_query_string_are_not_decoded_into_lone_surrogates(
    http: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    # Header values are decoded as Latin-1, and the query string's %-escapes with replacement
    # characters: no bytes give a lone surrogate there.
    deliveries = Deliveries(clock)
    body, headers = deliveries.post("generic", deliveries.samples["generic"]())
    del headers["Authorization"]
    answer = await http.post("/invite_from_form?token=%ED%A0%80%00", content=body, headers=headers)
    assert answer.status_code == 401

    body, headers = deliveries.post("formbricks", deliveries.samples["formbricks"]())
    msg_id, timestamp = "msg_\xed\xa0\x80".encode("latin-1"), int(clock.now())
    signature = sign_standard_webhook(body, msg_id.decode("latin-1"), timestamp, FORMBRICKS_SECRET)
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"webhook-id", msg_id),
        (b"webhook-timestamp", str(timestamp).encode()),
        (b"webhook-signature", signature.encode()),
    ]
    answer = await http.post("/invite_from_form", content=body, headers=raw_headers)
    assert answer.status_code == 202, answer.text
    knock = await store.get_knock(answer.json()["knock_id"])
    assert knock is not None and knock.submission_key == "formbricks:msg_\xed\xa0\x80"

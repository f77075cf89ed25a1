"""Tests that a delivery whose text Knock could not store is refused while it is parsed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from knock.core.forms import PayloadError, parse_delivery

from .samples import (
    BOUNDARY,
    JSON,
    MULTIPART,
    URLENCODED,
    jotform_parts,
    json_body,
    multipart_body,
    sample_json,
    signatures,
)

LONE_SURROGATE = "\ud800"
NUL = "\x00"

Delivery = tuple[bytes, str, dict[str, str]]


def _json(name: str, headers: dict[str, str] | None = None) -> Callable[..., Delivery]:
    """A builder for a JSON sample with `put` applied to its decoded body."""

    def build(put: Callable[[dict[str, Any]], None]) -> Delivery:
        payload = sample_json(name)
        put(payload)
        return json_body(payload), JSON, dict(headers or {})

    return build


def _tally(where: str, text: str) -> Delivery:
    index = {"matrix_id": 1, "answer": 0}[where]
    return _json("tally.json")(lambda p: p["data"]["fields"][index].update(value=text))


def _typeform(where: str, text: str) -> Delivery:
    index = {"matrix_id": 0, "answer": 1}[where]
    return _json("typeform.json")(lambda p: p["form_response"]["answers"][index].update(text=text))


def _formbricks(where: str, text: str) -> Delivery:
    key = {"matrix_id": "matrixid", "answer": "website"}[where]
    headers = signatures()["formbricks.json"]["headers"]
    return _json("formbricks.json", headers)(lambda p: p["data"]["data"].update({key: text}))


def _heyform(where: str, text: str) -> Delivery:
    entries = {"matrix_id": "answers", "answer": "hiddenFields"}[where]
    return _json("heyform.json")(lambda p: p[entries][0].update(value=text))


def _fillout(where: str, text: str) -> Delivery:
    index = {"matrix_id": 0, "answer": 1}[where]
    return _json("fillout.json")(lambda p: p["questions"][index].update(value=text))


def _generic(where: str, text: str) -> Delivery:
    key = {"matrix_id": "matrix_id", "answer": "submission_id"}[where]
    return _json("generic.json")(lambda p: p.update({key: text}))


def _jotform(where: str, text: str) -> Delivery:
    key = {"matrix_id": "q3_matrixId", "answer": "q4_website"}[where]
    parts = []
    for name, value in jotform_parts():
        if name == "rawRequest":
            raw = json.loads(value)
            raw[key] = text
            value = json.dumps(raw)  # the text travels as a \u escape, as JSON allows
        parts.append((name, value))
    return multipart_body(parts), MULTIPART, {}


def _html(where: str, text: str) -> Delivery:
    # A form body is bytes: a lone surrogate can only arrive as its (invalid) UTF-8 bytes.
    values = _html_values(where, text)
    body = "&".join(f"{name}={quote(_bytes(value))}" for name, value in values.items())
    return body.encode(), URLENCODED, {}


def _html_multipart(where: str, text: str) -> Delivery:
    chunks = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in _html_values(where, text).items()
    ]
    return _bytes("".join(chunks) + f"--{BOUNDARY}--\r\n"), MULTIPART, {}


def _html_values(where: str, text: str) -> dict[str, str]:
    values = {"matrix_id": "@grace:example.org", "website": ""}
    values[{"matrix_id": "matrix_id", "answer": "website"}[where]] = text
    return values


def _bytes(text: str) -> bytes:
    """Encode text as UTF-8, lone surrogates included (as the three bytes no decoder takes)."""
    return text.encode("utf-8", "surrogatepass")


BUILDERS: dict[str, Callable[[str, str], Delivery]] = {
    "tally": _tally,
    "typeform": _typeform,
    "formbricks": _formbricks,
    "heyform": _heyform,
    "fillout": _fillout,
    "generic": _generic,
    "jotform": _jotform,
    "html": _html,
    "html-multipart": _html_multipart,
}


@pytest.mark.parametrize("platform", BUILDERS)
def test_every_platform_sample_parses_as_built(platform: str) -> None:
    body, content_type, headers = BUILDERS[platform]("answer", "fine")
    assert parse_delivery(body, content_type, headers).platform == platform.partition("-")[0]


@pytest.mark.parametrize("where", ["matrix_id", "answer"])
@pytest.mark.parametrize("platform", BUILDERS)
@pytest.mark.parametrize(
    "text", [LONE_SURROGATE, f"@a{LONE_SURROGATE}:example.org", "\udfff", "x\udc80y"]
)
def test_a_lone_surrogate_anywhere_is_refused_with_a_400(
    platform: str, where: str, text: str
) -> None:
    body, content_type, headers = BUILDERS[platform](where, text)
    with pytest.raises(PayloadError) as caught:
        parse_delivery(body, content_type, headers)
    assert caught.value.status == 400
    assert "UTF-8" in caught.value.message or "Unicode" in caught.value.message


@pytest.mark.parametrize("where", ["matrix_id", "answer"])
@pytest.mark.parametrize("platform", BUILDERS)
def test_a_nul_character_anywhere_is_refused_with_a_400(platform: str, where: str) -> None:
    # PostgreSQL's text cannot hold U+0000; SQLite's can, and both must answer alike.
    body, content_type, headers = BUILDERS[platform](where, f"@a{NUL}:example.org")
    with pytest.raises(PayloadError) as caught:
        parse_delivery(body, content_type, headers)
    assert caught.value.status == 400
    assert "NUL" in caught.value.message


@pytest.mark.parametrize(
    "body",
    [
        {"matrix_id": "@a:example.org", LONE_SURROGATE: "a key"},
        {"matrix_id": "@a:example.org", f"note{NUL}": "a key"},
        {"matrix_id": "@a:example.org", "submission_id": f"s{NUL}1"},
    ],
)
def test_names_and_the_dedupe_key_are_checked_too(body: dict[str, str]) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_delivery(json_body(body), JSON, {})
    assert caught.value.status == 400


def test_a_label_from_the_form_definition_is_checked() -> None:
    payload = sample_json("typeform.json")
    payload["form_response"]["definition"]["fields"][1]["title"] = f"Note {LONE_SURROGATE}"
    with pytest.raises(PayloadError) as caught:
        parse_delivery(json_body(payload), JSON, {})
    assert caught.value.status == 400


def test_surrogate_pairs_written_as_escapes_are_ordinary_text() -> None:
    # "\ud83d\ude00" is how JSON writes one emoji; json.loads joins the pair.
    body = b'{"matrix_id": "@a:example.org", "note": "\\ud83d\\ude00"}'
    submission = parse_delivery(body, JSON, {})
    assert submission.field_values()["note"] == "\N{GRINNING FACE}"


def test_text_knock_does_not_read_may_hold_anything() -> None:
    # Only what becomes part of the submission is stored; the rest of a body is never read.
    payload = sample_json("tally.json")
    payload["createdAt"] = LONE_SURROGATE + NUL
    submission = parse_delivery(json_body(payload), JSON, {})
    assert submission.platform == "tally"


def test_the_message_names_the_question_whose_answer_holds_it() -> None:
    body, content_type, headers = _tally("matrix_id", f"@a{LONE_SURROGATE}:example.org")
    with pytest.raises(PayloadError) as caught:
        parse_delivery(body, content_type, headers)
    assert caught.value.message.startswith('The answer to "Matrix ID" holds text that is not valid')
    assert "\\ud800" in caught.value.message  # what to look for, written as the sender wrote it

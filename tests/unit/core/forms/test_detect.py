"""Tests for choosing the platform of a delivery and for rejecting unusable bodies."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knock.core.forms import PayloadError, Reading, Submission, parse_delivery

from .samples import BOUNDARY, JSON, MULTIPART, URLENCODED, multipart_body, sample, signatures


@pytest.mark.parametrize(
    ("name", "platform"),
    [
        ("tally.json", "tally"),
        ("typeform.json", "typeform"),
        ("formbricks.json", "formbricks"),
        ("heyform.json", "heyform"),
        ("fillout.json", "fillout"),
        ("generic.json", "generic"),
    ],
)
@pytest.mark.parametrize(
    "content_type",
    [JSON, "application/json; charset=utf-8", "Application/JSON", "application/x+json"],
)
def test_json_samples_are_told_apart_by_shape(name: str, platform: str, content_type: str) -> None:
    assert parse_delivery(sample(name), content_type, {}).platform == platform


@pytest.mark.parametrize(
    ("headers", "platform"),
    [
        ({"tally-signature": "x"}, "tally"),
        ({"Typeform-Signature": "sha256=x"}, "typeform"),
        ({"webhook-id": "msg_1", "webhook-signature": "v1,x"}, "formbricks"),
    ],
)
def test_signature_headers_decide_the_platform_before_the_shape(
    headers: dict[str, str], platform: str
) -> None:
    submission = parse_delivery(b'{"matrix_id": "@a:example.org"}', JSON, headers)
    assert submission.platform == platform
    assert not submission.final  # a signed delivery of no known event must not invite anyone


def test_formbricks_headers_on_its_sample_keep_the_answers() -> None:
    submission = parse_delivery(
        sample("formbricks.json"), JSON, signatures()["formbricks.json"]["headers"]
    )
    assert submission.field_values()["matrixid"] == "@carol:beeper.com"


@pytest.mark.parametrize("content_type", ["text/plain", "", "application/xml", "image/png"])
def test_unsupported_content_type_is_415(content_type: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_delivery(sample("generic.json"), content_type, {})
    assert caught.value.status == 415
    assert "application/json" in caught.value.message


@pytest.mark.parametrize("body", [b"", b"{", b'{"matrix_id": }', b"\xff\xfe\x00", b"[" * 100_000])
def test_malformed_json_is_400_without_echoing_the_body(body: bytes) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_delivery(body, JSON, {})
    assert caught.value.status == 400
    assert caught.value.message == "The body is not valid JSON."


@pytest.mark.parametrize("body", [b"[]", b'"@a:example.org"', b"42", b"null"])
def test_json_that_is_not_an_object_is_422(body: bytes) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_delivery(body, JSON, {})
    assert caught.value.status == 422
    assert "object" in caught.value.message


def test_deeply_nested_answers_do_not_break_parsing() -> None:
    body = b'{"questions": [{"id": "q", "name": "n", "value": ' + b"[" * 900 + b"]" * 900
    body += b'}], "submissionId": "s"}'
    submission = parse_delivery(body, JSON, {})
    assert (submission.platform, submission.field_values()["q"]) == ("fillout", "")


_JSON_TYPES = [JSON, "application/json; charset=utf-8", "application/ld+json"]
_MULTIPART_TYPES = [MULTIPART, f'multipart/form-data; boundary="{BOUNDARY}"', "multipart/form-data"]
_HEADERS = [
    {},
    {"tally-signature": "x"},
    {"typeform-signature": "x"},
    {"webhook-id": "m", "webhook-signature": "v1,x"},
]
# Pieces of real bodies, so that random joins reach past the first syntax check.
_FRAGMENTS = [
    f"--{BOUNDARY}\r\n".encode(),
    f"--{BOUNDARY}--\r\n".encode(),
    b'Content-Disposition: form-data; name="rawRequest"\r\n\r\n',
    b'Content-Disposition: form-data; name="x"; filename="f"\r\n\r\n',
    b"Content-Disposition: form-data\r\n\r\n",
    b"\r\n",
    b'{"q3_matrixId": ["@a:b", {"first": 1}]}',
    b'{"eventType": "FORM_RESPONSE", "data": {"fields": [',
    b'{"event_type": "form_response", "form_response": {"answers": [',
    b'{"event": "responseFinished", "data": {"data": ',
    b"]}}",
    b"matrix_id=%40a%3Ab&",
    b"\xff",
    b"%",
]
_KEYS = ["id", "key", "label", "title", "name", "value", "type", "text", "options", "choices"]


def _json_values() -> st.SearchStrategy[object]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=4), inner, max_size=4)
        ),
        max_leaves=12,
    )


_HOLE = object()  # marks where a skeleton takes a random JSON value
_SKELETONS: list[dict[str, object]] = [
    {"eventType": "FORM_RESPONSE", "data": {"fields": [_HOLE, _HOLE], "submissionId": _HOLE}},
    {"event_type": "form_response", "form_response": {"answers": [_HOLE], "hidden": _HOLE}},
    {"event_type": _HOLE, "form_response": {"definition": _HOLE, "token": _HOLE}},
    {"event": "responseFinished", "data": {"data": _HOLE, "id": _HOLE}},
    {"formId": "f", "answers": [_HOLE], "hiddenFields": _HOLE, "fields": [_HOLE]},
    {"submissionId": _HOLE, "questions": [_HOLE], "urlParameters": _HOLE},
    {"matrix_id": _HOLE, "submission_id": _HOLE},
]


def _fill(draw: st.DrawFn, template: object) -> object:
    if template is _HOLE:
        return draw(_json_values())
    if isinstance(template, dict):
        return {key: _fill(draw, item) for key, item in template.items()}
    if isinstance(template, list):
        return [_fill(draw, item) for item in template]
    return template


def _fragments() -> st.SearchStrategy[bytes]:
    return st.lists(st.sampled_from(_FRAGMENTS) | st.binary(max_size=4)).map(b"".join)


@st.composite
def _json_case(draw: st.DrawFn) -> tuple[bytes, str]:
    kind = draw(st.sampled_from(["shaped", "fragments", "bytes"]))
    if kind == "shaped":
        body = json.dumps(_fill(draw, draw(st.sampled_from(_SKELETONS)))).encode()
    else:
        body = draw(_fragments() if kind == "fragments" else st.binary(max_size=200))
    return body, draw(st.sampled_from(_JSON_TYPES))


def _part_values() -> st.SearchStrategy[str]:
    raw_request = st.dictionaries(
        st.sampled_from(["q3_matrixId", "q5_name", "slug"]) | st.text(max_size=5), _json_values()
    )
    return st.text(max_size=20) | (_json_values() | raw_request).map(json.dumps)


@st.composite
def _multipart_case(draw: st.DrawFn) -> tuple[bytes, str]:
    name = st.sampled_from(["rawRequest", "submissionID", "pretty", "q1_matrix"]) | st.text(
        max_size=5
    )
    parts = multipart_body(draw(st.lists(st.tuples(name, _part_values()), max_size=4)))
    body = draw(st.just(parts) | _fragments() | st.binary(max_size=200))
    return body, draw(st.sampled_from(_MULTIPART_TYPES))


@st.composite
def _urlencoded_case(draw: st.DrawFn) -> tuple[bytes, str]:
    text = st.text(max_size=30).map(lambda t: t.encode("utf-8", "surrogatepass"))
    return draw(text | _fragments() | st.binary(max_size=100)), URLENCODED


@st.composite
def _any_case(draw: st.DrawFn) -> tuple[bytes, str]:
    content_type = st.sampled_from(["text/plain", "", "application/xml"]) | st.text(max_size=40)
    return draw(st.binary(max_size=200)), draw(content_type)


@settings(max_examples=500, deadline=None)
@given(
    case=_json_case() | _multipart_case() | _urlencoded_case() | _any_case(),
    headers=st.sampled_from(_HEADERS),
)
def test_any_bytes_give_a_submission_or_a_payload_error(
    case: tuple[bytes, str], headers: dict[str, str]
) -> None:
    body, content_type = case
    try:
        submission = parse_delivery(body, content_type, headers)
    except PayloadError as error:
        assert error.status in (400, 415, 422)
        assert error.message
    else:
        assert isinstance(submission, Submission)
        assert all(isinstance(field.value, str) for field in submission.fields)


# A signature header binds the delivery to its platform, whatever the content type claims.


@pytest.mark.parametrize("content_type", [URLENCODED, f"multipart/form-data; boundary={BOUNDARY}"])
def test_a_signed_body_resent_as_a_form_is_not_read_as_an_html_form(content_type: str) -> None:
    signed = signatures()["tally.json"]
    body = sample("tally.json").replace(b'"Matrix ID"', b'"x&matrix_id=@evil:example.org&y"')

    with pytest.raises(PayloadError) as caught:
        parse_delivery(body, content_type, {signed["header"]: signed["value"]})

    assert caught.value.status == 415
    assert "application/json" in caught.value.message


def test_two_platforms_signature_headers_are_refused() -> None:
    headers = {"tally-signature": "x", "typeform-signature": "sha256=x"}
    with pytest.raises(PayloadError) as caught:
        parse_delivery(sample("typeform.json"), JSON, headers)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "name", ["tally.json", "typeform.json", "formbricks.json", "heyform.json", "fillout.json"]
)
def test_a_plain_reading_never_takes_a_platform_by_its_shape(name: str) -> None:
    assert parse_delivery(sample(name), JSON, {}, Reading.PLAIN).platform == "generic"


def test_a_plain_reading_ignores_signature_headers_and_reads_jotform_parts_as_a_form() -> None:
    headers = {"tally-signature": "x"}
    assert parse_delivery(b'{"matrix_id": "@a:b.c"}', JSON, headers, Reading.PLAIN).platform == (
        "generic"
    )
    jotform = multipart_body([("rawRequest", '{"q3_matrixId": "@a:b.c"}'), ("matrix_id", "@a:b.c")])
    assert parse_delivery(jotform, MULTIPART, {}, Reading.PLAIN).platform == "html"

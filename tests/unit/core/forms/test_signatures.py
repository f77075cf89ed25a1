"""Tests for webhook signature checks, against the signed fixture samples."""

import pytest

from knock.core.forms import verify_standard_webhook, verify_tally, verify_typeform
from knock_testing.signing import sign_standard_webhook, sign_tally, sign_typeform

from .samples import SECRET, sample, signatures

FORMBRICKS = signatures()["formbricks.json"]
SIGNED_AT = int(FORMBRICKS["headers"]["webhook-timestamp"])


def _changed(body: bytes) -> bytes:
    return body[:10] + bytes([body[10] ^ 1]) + body[11:]


def test_tally_sample_signature_verifies() -> None:
    value = signatures()["tally.json"]["value"]
    assert verify_tally(sample("tally.json"), value, SECRET)
    assert sign_tally(sample("tally.json"), SECRET) == value


@pytest.mark.parametrize(
    ("body", "signature", "secret"),
    [
        (_changed(sample("tally.json")), signatures()["tally.json"]["value"], SECRET),
        (sample("tally.json"), signatures()["tally.json"]["value"], "another-secret"),
        (sample("tally.json"), None, SECRET),
        (sample("tally.json"), "not base64!", SECRET),
        (sample("tally.json"), "ünïcode", SECRET),
    ],
)
def test_tally_rejects_changed_body_wrong_secret_and_bad_header(
    body: bytes, signature: str | None, secret: str
) -> None:
    assert not verify_tally(body, signature, secret)


def test_an_empty_secret_accepts_nothing_not_even_a_body_signed_with_it() -> None:
    body = sample("tally.json")
    assert not verify_tally(body, sign_tally(body, ""), "")
    assert not verify_typeform(body, sign_typeform(body, ""), "")


def test_typeform_sample_signature_verifies() -> None:
    value = signatures()["typeform.json"]["value"]
    assert verify_typeform(sample("typeform.json"), value, SECRET)
    assert sign_typeform(sample("typeform.json"), SECRET) == value


@pytest.mark.parametrize(
    ("body", "signature", "secret"),
    [
        (_changed(sample("typeform.json")), signatures()["typeform.json"]["value"], SECRET),
        (sample("typeform.json"), signatures()["typeform.json"]["value"], "another-secret"),
        (sample("typeform.json"), None, SECRET),
        (sample("typeform.json"), signatures()["typeform.json"]["value"][7:], SECRET),
        (sample("typeform.json"), "sha256=", SECRET),
    ],
)
def test_typeform_rejects_changed_body_wrong_secret_and_bad_header(
    body: bytes, signature: str | None, secret: str
) -> None:
    assert not verify_typeform(body, signature, secret)


def test_formbricks_sample_verifies_at_its_timestamp() -> None:
    body = sample("formbricks.json")
    assert verify_standard_webhook(body, FORMBRICKS["headers"], FORMBRICKS["secret"], SIGNED_AT)


def test_formbricks_sample_fails_six_minutes_later_or_earlier() -> None:
    body, headers, secret = sample("formbricks.json"), FORMBRICKS["headers"], FORMBRICKS["secret"]
    assert not verify_standard_webhook(body, headers, secret, SIGNED_AT + 360)
    assert not verify_standard_webhook(body, headers, secret, SIGNED_AT - 360)
    assert verify_standard_webhook(body, headers, secret, SIGNED_AT + 290)


def test_formbricks_rejects_changed_body_and_wrong_secret() -> None:
    body, headers = sample("formbricks.json"), FORMBRICKS["headers"]
    assert not verify_standard_webhook(_changed(body), headers, FORMBRICKS["secret"], SIGNED_AT)
    assert not verify_standard_webhook(body, headers, "whsec_YW5vdGhlcg==", SIGNED_AT)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_formbricks_rejects_a_missing_header(missing: str) -> None:
    headers = {k: v for k, v in FORMBRICKS["headers"].items() if k != missing}
    body = sample("formbricks.json")
    assert not verify_standard_webhook(body, headers, FORMBRICKS["secret"], SIGNED_AT)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("webhook-timestamp", "9" * 5000),
        ("webhook-timestamp", "-1"),
        ("webhook-signature", "v1,???"),
        ("webhook-signature", "v2," + FORMBRICKS["headers"]["webhook-signature"][3:]),
        ("webhook-id", "msg_other"),
    ],
)
def test_formbricks_rejects_garbled_headers(name: str, value: str) -> None:
    headers = {**FORMBRICKS["headers"], name: value}
    body = sample("formbricks.json")
    assert not verify_standard_webhook(body, headers, FORMBRICKS["secret"], SIGNED_AT)


@pytest.mark.parametrize("secret", ["whsec_not*base64", "whsec_", ""])
def test_formbricks_rejects_an_undecodable_secret(secret: str) -> None:
    body = sample("formbricks.json")
    assert not verify_standard_webhook(body, FORMBRICKS["headers"], secret, SIGNED_AT)


def test_any_matching_v1_signature_among_several_is_enough() -> None:
    value = FORMBRICKS["headers"]["webhook-signature"]
    headers = {**FORMBRICKS["headers"], "webhook-signature": f"v1,AAAA {value}"}
    body = sample("formbricks.json")
    assert verify_standard_webhook(body, headers, FORMBRICKS["secret"], SIGNED_AT)


def test_resigned_formbricks_body_matches_the_fixture_and_verifies_now() -> None:
    body = sample("formbricks.json")
    fixed = sign_standard_webhook(body, "msg_fixture_0001", SIGNED_AT, FORMBRICKS["secret"])
    assert fixed == FORMBRICKS["headers"]["webhook-signature"]
    now = 1_900_000_000
    headers = {
        "webhook-id": "msg_2",
        "webhook-timestamp": str(now),
        "webhook-signature": sign_standard_webhook(body, "msg_2", now, FORMBRICKS["secret"]),
    }
    assert verify_standard_webhook(body, headers, FORMBRICKS["secret"], now)


def test_the_whsec_prefix_is_optional() -> None:
    body = sample("formbricks.json")
    bare = FORMBRICKS["secret"].removeprefix("whsec_")
    assert verify_standard_webhook(body, FORMBRICKS["headers"], bare, SIGNED_AT)


def test_signing_with_an_undecodable_secret_raises_value_error() -> None:
    with pytest.raises(ValueError):
        sign_standard_webhook(b"{}", "msg", 1, "whsec_***")

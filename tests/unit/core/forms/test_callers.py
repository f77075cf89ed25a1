"""Who sent a delivery: per-address callers (browsers, HTML forms, unsigned JSON when allowed)
and server-to-server callers (a platform's signature, or WEBHOOK_TOKEN)."""

from __future__ import annotations

import pytest

from knock.core.forms import (
    CallerKind,
    PayloadError,
    Policy,
    Proof,
    Reading,
    Secrets,
    Submission,
    classify,
    parse_delivery,
    prove,
    require_own_signature,
)

from .samples import JSON, MULTIPART, URLENCODED, multipart_body, sample, signatures

SECRET = "knock-fixture-secret"
TOKEN = "a-token-long-enough"
BOTH = Secrets(tally=SECRET, token=TOKEN)
DEFAULT_POLICY = Policy(BOTH)
PER_ADDRESS, SERVER = CallerKind.PER_ADDRESS, CallerKind.SERVER_TO_SERVER


def tally_headers() -> dict[str, str]:
    signed = signatures()["tally.json"]
    return {signed["header"].lower(): signed["value"]}


def sender(
    headers: dict[str, str],
    content_type: str = JSON,
    body: bytes = b"{}",
    query_token: str | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> tuple[CallerKind, Reading, bool]:
    proof = prove(body, headers, query_token, policy.secrets, now=0)
    found = classify(headers, content_type, proof, policy)
    return found.kind, found.reading, found.token_published


def refused(headers: dict[str, str], content_type: str = JSON, **options: object) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        sender(headers, content_type, **options)  # type: ignore[arg-type]
    return caught.value


def test_any_post_with_an_origin_is_per_address_and_read_plain_even_with_the_token() -> None:
    browser = {"origin": "https://example.org"}
    assert sender(browser) == (PER_ADDRESS, Reading.PLAIN, False)
    assert sender(browser, URLENCODED) == (PER_ADDRESS, Reading.PLAIN, False)
    with_token = {**browser, "authorization": f"Bearer {TOKEN}"}
    assert sender(with_token) == (PER_ADDRESS, Reading.PLAIN, True)  # the token was published
    signed = {**browser, **tally_headers()}
    assert sender(signed, body=sample("tally.json"))[:2] == (PER_ADDRESS, Reading.PLAIN)


def test_a_form_post_needs_no_token_and_is_per_address_without_one() -> None:
    assert sender({}, URLENCODED) == (PER_ADDRESS, Reading.PLAIN, False)
    assert sender({}, MULTIPART) == (PER_ADDRESS, Reading.PLAIN, False)
    assert sender({}, URLENCODED, query_token="wrong") == (PER_ADDRESS, Reading.PLAIN, False)
    # With the token and no Origin it is a script (or Jotform): server-to-server.
    assert sender({}, MULTIPART, query_token=TOKEN) == (SERVER, Reading.BY_SHAPE, False)


def test_unsigned_json_is_refused_naming_webhook_token() -> None:
    assert refused({}).status == 401
    assert "WEBHOOK_TOKEN" in refused({}).message
    open_intake = Policy(Secrets())
    assert refused({}, policy=open_intake).status == 401
    assert "ALLOW_UNSIGNED_WEBHOOKS" in refused({}, policy=open_intake).message


def test_unsigned_json_is_per_address_when_unsigned_intake_is_allowed() -> None:
    allowed = Policy(Secrets(), allow_unsigned=True)
    assert sender({}, policy=allowed) == (PER_ADDRESS, Reading.BY_SHAPE, False)


def test_json_with_the_token_and_no_origin_is_server_to_server() -> None:
    assert sender({"authorization": f"Bearer {TOKEN}"}) == (SERVER, Reading.BY_SHAPE, False)
    assert sender({}, query_token=TOKEN) == (SERVER, Reading.BY_SHAPE, False)


def test_a_signing_platform_must_carry_its_own_valid_signature_token_or_not() -> None:
    body = sample("tally.json")
    assert sender(tally_headers(), body=body) == (SERVER, Reading.BY_SHAPE, False)
    forged = {"tally-signature": "AAAA" + tally_headers()["tally-signature"][4:]}
    assert refused(forged, body=body, query_token=TOKEN).status == 401


def test_a_signature_header_of_a_platform_without_a_secret_needs_the_token() -> None:
    typeform = {"typeform-signature": "sha256=x"}
    assert sender(typeform, query_token=TOKEN) == (SERVER, Reading.BY_SHAPE, False)
    assert refused(typeform).status == 401


def test_allowed_origins_restrict_browsers_only() -> None:
    policy = Policy(BOTH, allowed_origins=frozenset({"https://example.org"}))
    assert sender({"origin": "https://Example.org"}, policy=policy)[0] is PER_ADDRESS
    error = refused({"origin": "https://evil.example"}, policy=policy)
    assert error.status == 403 and "ALLOWED_ORIGINS" in error.message
    assert sender({}, URLENCODED, policy=policy)[0] is PER_ADDRESS  # no Origin: not restricted


def test_a_secret_admits_only_its_own_platform() -> None:
    policy = Policy(BOTH)
    token_only = Proof(token=True)
    dressed_as_tally = parse_delivery(sample("tally.json"), JSON, {})
    with pytest.raises(PayloadError) as caught:
        require_own_signature(dressed_as_tally, token_only, policy)
    assert caught.value.status == 401
    # A Tally signature admits Tally's deliveries, and a token the platforms without a secret.
    require_own_signature(dressed_as_tally, Proof("tally", True), policy)
    require_own_signature(parse_delivery(sample("heyform.json"), JSON, {}), token_only, policy)
    require_own_signature(Submission("html", None, ()), Proof(), policy)


def test_a_tally_signature_does_not_make_a_form_body_readable_as_html() -> None:
    body = sample("tally.json")
    kind, reading, _ = sender(tally_headers(), URLENCODED, body=body)
    assert kind is SERVER  # the signature is valid...
    with pytest.raises(PayloadError) as caught:  # ...so it is read as Tally or not at all
        parse_delivery(body, URLENCODED, tally_headers(), reading)
    assert caught.value.status == 415


def test_a_jotform_shaped_form_post_without_the_token_is_read_as_a_plain_form() -> None:
    parts = [("rawRequest", '{"q3_matrixId": "@a:b.c"}'), ("submissionID", "1")]
    kind, reading, _ = sender({}, MULTIPART)
    assert parse_delivery(multipart_body(parts), MULTIPART, {}, reading).platform == "html"
    assert kind is PER_ADDRESS

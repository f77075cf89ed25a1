"""Who sent a delivery, decided once from its headers, content type and proof.

There are two kinds of caller. A **per-address caller** is any post carrying an ``Origin``
header (a browser), any urlencoded or multipart post without a valid platform signature or
token (an HTML form), and, when unsigned intake is allowed, unsigned JSON. Everything else a
platform signature or ``WEBHOOK_TOKEN`` admits is **server-to-server**. Only per-address
callers are limited and backed off per address, and only they may hear 422 or 429.

A delivery carrying a platform's signature header is read only as that platform, and a
platform's secret admits only that platform's deliveries.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from .headers import is_json, signature_platform
from .model import PayloadError, Reading, Submission
from .signatures import verify_standard_webhook, verify_tally, verify_typeform


class CallerKind(StrEnum):
    """Whether a delivery's address is one person's (limited) or a platform's (never)."""

    PER_ADDRESS = "per_address"
    SERVER_TO_SERVER = "server_to_server"


@dataclass(frozen=True)
class Secrets:
    """The delivery secrets that are set (None: unset)."""

    tally: str | None = None
    typeform: str | None = None
    formbricks: str | None = None
    token: str | None = None

    def signing(self) -> frozenset[str]:
        """The platforms whose signing secret is set."""
        return frozenset(
            platform
            for platform, secret in (
                ("tally", self.tally),
                ("typeform", self.typeform),
                ("formbricks", self.formbricks),
            )
            if secret is not None
        )


@dataclass(frozen=True)
class Policy:
    """What intake accepts beyond a valid signature or token."""

    secrets: Secrets
    # ALLOW_UNSIGNED_WEBHOOKS=true, or knocks accepted unsigned are stored from before.
    allow_unsigned: bool = False
    allowed_origins: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Proof:
    """What a delivery proved about itself."""

    platform: str | None = None  # the platform whose signature header came along
    signed: bool = False  # that header verified with the platform's secret
    token: bool = False  # the right WEBHOOK_TOKEN came along


@dataclass(frozen=True)
class Sender:
    """Who sent a delivery and how its body may be read."""

    kind: CallerKind
    reading: Reading
    token_published: bool = False  # a browser sent the token: it is in a public page


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """Return the token of an `Authorization: Bearer` header (lower-cased names), if any."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def same_secret(given: str | None, expected: str) -> bool:
    """Compare secrets in constant time."""
    return given is not None and hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def prove(
    body: bytes,
    headers: Mapping[str, str],
    query_token: str | None,
    secrets: Secrets,
    now: float,
) -> Proof:
    """Check the token and the one signature a delivery carries (lower-cased header names)."""
    token = secrets.token is not None and (
        same_secret(bearer_token(headers), secrets.token) or same_secret(query_token, secrets.token)
    )
    platform = signature_platform(headers)
    signed = False
    if platform == "tally" and secrets.tally is not None:
        signed = verify_tally(body, headers["tally-signature"], secrets.tally)
    elif platform == "typeform" and secrets.typeform is not None:
        signed = verify_typeform(body, headers["typeform-signature"], secrets.typeform)
    elif platform == "formbricks" and secrets.formbricks is not None:
        signed = verify_standard_webhook(body, headers, secrets.formbricks, now)
    return Proof(platform, signed, token)


def classify(headers: Mapping[str, str], content_type: str, proof: Proof, policy: Policy) -> Sender:
    """Decide who sent a delivery, or raise PayloadError (401, 403) saying what is missing."""
    origin = headers.get("origin")
    if origin is not None:
        if policy.allowed_origins and origin.strip().lower() not in policy.allowed_origins:
            raise PayloadError(
                403, "Posts from this page are not accepted: add its origin to ALLOWED_ORIGINS."
            )
        # A browser: limited per address whatever it carries, and never read as a platform.
        return Sender(CallerKind.PER_ADDRESS, Reading.PLAIN, token_published=proof.token)
    if proof.platform is not None:
        if proof.platform in policy.secrets.signing():
            if not proof.signed:
                raise PayloadError(
                    401, f"The delivery is not signed with the {proof.platform} secret."
                )
            return Sender(CallerKind.SERVER_TO_SERVER, Reading.BY_SHAPE)
        return _unsigned(proof, policy, json=True)
    if proof.token:
        return Sender(CallerKind.SERVER_TO_SERVER, Reading.BY_SHAPE)
    return _unsigned(proof, policy, json=is_json(content_type))


def _unsigned(proof: Proof, policy: Policy, *, json: bool) -> Sender:
    """A delivery without a valid signature of its own (a token may still admit it)."""
    if proof.token:
        return Sender(CallerKind.SERVER_TO_SERVER, Reading.BY_SHAPE)
    if policy.allow_unsigned:
        return Sender(CallerKind.PER_ADDRESS, Reading.BY_SHAPE)
    if not json:  # an HTML form needs no token: it is limited per address instead
        return Sender(CallerKind.PER_ADDRESS, Reading.PLAIN)
    if policy.secrets.token is not None:
        raise PayloadError(
            401,
            "The delivery carries no valid signature or token: send WEBHOOK_TOKEN as "
            "Authorization: Bearer <token> or ?token=<token>.",
        )
    raise PayloadError(
        401,
        "Knock refuses JSON deliveries without a signature or token: set WEBHOOK_TOKEN and "
        "send it as Authorization: Bearer <token> or ?token=<token> (or set "
        "ALLOW_UNSIGNED_WEBHOOKS=true to accept them from anyone).",
    )


def require_own_signature(submission: Submission, proof: Proof, policy: Policy) -> None:
    """Refuse a body shaped like a signing platform's that does not carry its valid signature.

    A platform's secret admits only that platform's deliveries, and a platform with a secret
    must sign: nobody can post an unsigned body dressed as that platform, token or not.
    """
    platform = submission.platform
    if platform in policy.secrets.signing() and not (proof.platform == platform and proof.signed):
        raise PayloadError(401, f"The delivery is not signed with the {platform} secret.")


def same_site_post(headers: Mapping[str, str], allowed_origins: frozenset[str]) -> bool:
    """Tell whether a browser's post to one of Knock's own pages may be taken (CSRF).

    It may when the browser says it came from the same origin (`Sec-Fetch-Site`), or, for a
    browser that does not say, when its `Origin` names the host it posted to; and from any
    origin in ALLOWED_ORIGINS. A post with neither header is not a browser's cross-site post.
    """
    origin = headers.get("origin", "").strip().lower()
    if origin and origin in allowed_origins:
        return True
    site = headers.get("sec-fetch-site", "").strip().lower()
    if site:
        return site in ("same-origin", "none")
    if not origin:
        return True
    host = headers.get("host", "").strip().lower()
    return bool(host) and origin.partition("://")[2] == host

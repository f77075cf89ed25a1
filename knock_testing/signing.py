"""Signing webhook deliveries the way form platforms do, for tests and benchmarks.

Knock only verifies signatures (``knock.core.forms.signatures``); these helpers are written
independently of that code from the platforms' documented schemes, so a test that signs here
and verifies there checks one against the other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

__all__ = ["sign_standard_webhook", "sign_tally", "sign_typeform"]


def sign_tally(body: bytes, secret: str) -> str:
    """Compute the ``Tally-Signature`` header value for a body: base64 HMAC-SHA256."""
    return _hmac_b64(secret.encode(), body)


def sign_typeform(body: bytes, secret: str) -> str:
    """Compute the ``Typeform-Signature`` header value for a body: ``sha256=<base64>``."""
    return "sha256=" + _hmac_b64(secret.encode(), body)


def sign_standard_webhook(body: bytes, msg_id: str, timestamp: int, secret: str) -> str:
    """Compute a ``webhook-signature`` header value (``v1,<base64>``) for a body.

    The key is the base64 secret, with or without its ``whsec_`` prefix, decoded; the signed
    content is ``{msg_id}.{timestamp}.{body}``. Raises ValueError when the secret is not base64
    or decodes to nothing.
    """
    encoded = secret.strip().removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error as error:
        raise ValueError("The Standard Webhooks secret is not base64.") from error
    if not key:
        raise ValueError("The Standard Webhooks secret is empty.")
    content = f"{msg_id}.{timestamp}.".encode("utf-8", "surrogatepass") + body
    return "v1," + _hmac_b64(key, content)


def _hmac_b64(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 of a message, as standard base64 text."""
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")

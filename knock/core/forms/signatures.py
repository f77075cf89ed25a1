"""Verification of webhook deliveries' signatures (Tally, Typeform, Standard Webhooks).

Every check works on the raw request bytes, compares digests with ``hmac.compare_digest``
and answers False, never raising, for missing or garbled headers and unusable secrets.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

_TYPEFORM_PREFIX = "sha256="
_WHSEC_PREFIX = "whsec_"


def verify_tally(body: bytes, signature: str | None, secret: str) -> bool:
    """Tell whether a ``Tally-Signature`` header was made from this body with the secret."""
    if not secret or signature is None:
        return False
    return _matches(_digest(secret.encode(), body), signature)


def verify_typeform(body: bytes, signature: str | None, secret: str) -> bool:
    """Tell whether a ``Typeform-Signature`` header was made from this body with the secret."""
    if not secret or signature is None:
        return False
    scheme_and_value = signature.strip()
    if not scheme_and_value.startswith(_TYPEFORM_PREFIX):
        return False
    return _matches(_digest(secret.encode(), body), scheme_and_value[len(_TYPEFORM_PREFIX) :])


def verify_standard_webhook(
    body: bytes, headers: Mapping[str, str], secret: str, now: float, tolerance: float = 300
) -> bool:
    """Tell whether a Standard Webhooks (Formbricks) delivery is signed and recent.

    ``headers`` has lower-cased names; any one matching ``v1`` signature is enough.
    """
    msg_id = headers.get("webhook-id", "").strip()
    timestamp = headers.get("webhook-timestamp", "").strip()
    key = _standard_key(secret)
    if not msg_id or key is None or not _is_recent(timestamp, now, tolerance):
        return False
    expected = _digest(key, _signed_content(msg_id, timestamp, body))
    offered = headers.get("webhook-signature", "").split()
    # Check every entry, not just until the first match, so timing says nothing about order.
    results = [
        _matches(expected, value)
        for version, _, value in map(_split_entry, offered)
        if version == "v1"
    ]
    return any(results)


def _split_entry(entry: str) -> tuple[str, str, str]:
    """Split one ``<version>,<signature>`` entry of a ``webhook-signature`` header."""
    return entry.partition(",")


def _is_recent(timestamp: str, now: float, tolerance: float) -> bool:
    """Tell whether a Unix timestamp in seconds lies within the tolerance of now."""
    # The length cap keeps int() away from its digit limit, which raises ValueError.
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 15:
        return False
    return abs(now - int(timestamp)) <= tolerance


def _standard_key(secret: str) -> bytes | None:
    """Decode the HMAC key from a ``whsec_``-prefixed (or bare) base64 secret."""
    encoded = secret.strip().removeprefix(_WHSEC_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None


def _signed_content(msg_id: str, timestamp: str, body: bytes) -> bytes:
    """Build the bytes Standard Webhooks signs: ``{id}.{timestamp}.{body}``."""
    return f"{msg_id}.{timestamp}.".encode("utf-8", "surrogatepass") + body


def _matches(expected: bytes, signature: str) -> bool:
    """Compare a base64 signature with the expected digest in constant time."""
    try:
        offered = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(expected, offered)


def _digest(key: bytes, message: bytes) -> bytes:
    """Compute HMAC-SHA256 of a message."""
    return hmac.new(key, message, hashlib.sha256).digest()

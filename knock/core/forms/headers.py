"""What a delivery's headers say: its media type, and the platform whose signature it carries."""

from __future__ import annotations

from collections.abc import Mapping

from python_multipart.multipart import parse_options_header

from .model import PayloadError

# The header each signing platform signs with, in the order they are looked for.
SIGNATURE_HEADERS = (
    ("tally", "tally-signature"),
    ("typeform", "typeform-signature"),
    ("formbricks", "webhook-signature"),
)


def media_type_of(content_type: str) -> tuple[str, dict[bytes, bytes]]:
    """Split a Content-Type header into its lower-cased media type and its parameters."""
    # Bytes in, so the boundary keeps the exact bytes that delimit the body's parts.
    media_type, options = parse_options_header(content_type.encode("utf-8", "replace"))
    return media_type.decode("latin-1").strip(), options


def is_json(content_type: str) -> bool:
    """Tell whether a Content-Type header names JSON."""
    media_type, _ = media_type_of(content_type)
    return media_type == "application/json" or media_type.endswith("+json")


def signature_platform(headers: Mapping[str, str]) -> str | None:
    """Return the platform whose signature header a delivery carries, if any.

    Raise PayloadError (400) when it carries the signature headers of two platforms.
    """
    names = {name.lower() for name in headers}
    found = [platform for platform, header in SIGNATURE_HEADERS if header in names]
    if len(found) > 1:
        raise PayloadError(
            400, f"The delivery carries the signature headers of {' and '.join(found)}."
        )
    return found[0] if found else None

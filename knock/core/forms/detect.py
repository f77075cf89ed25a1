"""Choosing the platform of a webhook delivery and parsing it into a submission."""

from __future__ import annotations

import json
from collections.abc import Mapping

from python_multipart.multipart import parse_options_header

from . import fillout, formbricks, generic, heyform, html, jotform, tally, typeform
from .formdata import read_multipart, read_urlencoded
from .model import PayloadError, Submission
from .text import require_storable
from .values import as_object

_URLENCODED = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


def parse_delivery(body: bytes, content_type: str, headers: Mapping[str, str]) -> Submission:
    """Parse a webhook delivery of any supported platform into one submission.

    Raises PayloadError, and nothing else, when the body cannot be used, including when any
    text of the submission is something the store could not hold.
    """
    return require_storable(_parse(body, content_type, headers))


def _parse(body: bytes, content_type: str, headers: Mapping[str, str]) -> Submission:
    """Parse the body by its media type, then by the platform that sent it."""
    media_type, options = _media_type(content_type)
    if media_type == "application/json" or media_type.endswith("+json"):
        return _parse_json(body, {name.lower(): value for name, value in headers.items()})
    if media_type == _URLENCODED:
        return html.parse(read_urlencoded(body))
    if media_type == _MULTIPART:
        parts = read_multipart(body, options.get(b"boundary"))
        return jotform.parse(parts) if jotform.looks_like(parts) else html.parse(parts)
    raise PayloadError(415, f"Send the form as application/json, {_URLENCODED} or {_MULTIPART}.")


def _media_type(content_type: str) -> tuple[str, dict[bytes, bytes]]:
    """Split a Content-Type header into its lower-cased media type and its parameters."""
    # Bytes in, so the boundary keeps the exact bytes that delimit the body's parts.
    media_type, options = parse_options_header(content_type.encode("utf-8", "replace"))
    return media_type.decode("latin-1").strip(), options


def _parse_json(body: bytes, headers: Mapping[str, str]) -> Submission:
    """Decode a JSON body and hand it to the parser of the platform that sent it."""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(400, "The body is not valid JSON.") from exc
    payload = as_object(decoded)
    if payload is None:
        raise PayloadError(
            422, 'The JSON body must be an object, such as {"matrix_id": "@you:example.org"}.'
        )
    return _by_headers(payload, headers) or _by_shape(payload, headers)


def _by_headers(payload: dict[str, object], headers: Mapping[str, str]) -> Submission | None:
    """Parse with the platform whose signature header came along, if any did."""
    if "tally-signature" in headers:
        return tally.parse(payload)
    if "typeform-signature" in headers:
        return typeform.parse(payload)
    if "webhook-id" in headers and "webhook-signature" in headers:
        return formbricks.parse(payload, headers)
    return None


def _by_shape(payload: dict[str, object], headers: Mapping[str, str]) -> Submission:
    """Parse with the platform whose body shape matches; unknown shapes count as generic."""
    if tally.looks_like(payload):
        return tally.parse(payload)
    if typeform.looks_like(payload):
        return typeform.parse(payload)
    if formbricks.looks_like(payload):
        return formbricks.parse(payload, headers)
    if heyform.looks_like(payload):
        return heyform.parse(payload)
    if fillout.looks_like(payload):
        return fillout.parse(payload)
    # Scripts send {"matrix_id": ...}, but any other object is read the same way so that a
    # Matrix ID can still be found among its values.
    return generic.parse(payload)

"""Choosing the platform of a webhook delivery and parsing it into a submission.

A delivery carrying a platform's signature header is read only as that platform (and must be
JSON); otherwise the body's shape decides, unless the reading is plain: then it is generic
JSON or an HTML form, whatever it looks like.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from . import fillout, formbricks, generic, heyform, html, jotform, tally, typeform
from .formdata import read_multipart, read_urlencoded
from .headers import is_json, media_type_of, signature_platform
from .model import PayloadError, Reading, Submission
from .text import require_storable
from .values import as_object

_URLENCODED = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


def parse_delivery(
    body: bytes,
    content_type: str,
    headers: Mapping[str, str],
    reading: Reading = Reading.BY_SHAPE,
) -> Submission:
    """Parse a webhook delivery of any supported platform into one submission.

    Raises PayloadError, and nothing else, when the body cannot be used, including when any
    text of the submission is something the store could not hold.
    """
    return require_storable(_parse(body, content_type, headers, reading))


def _parse(
    body: bytes, content_type: str, headers: Mapping[str, str], reading: Reading
) -> Submission:
    """Parse the body by the platform its signature header names, else by its media type."""
    lowered = {name.lower(): value for name, value in headers.items()}
    media_type, options = media_type_of(content_type)
    json_body = is_json(content_type)
    platform = None if reading is Reading.PLAIN else signature_platform(lowered)
    if platform is not None:
        if not json_body:
            raise PayloadError(
                415, f"A delivery signed by {platform} is JSON: send it as application/json."
            )
        return _by_platform(platform, _json_object(body), lowered)
    if json_body:
        payload = _json_object(body)
        return generic.parse(payload) if reading is Reading.PLAIN else _by_shape(payload, lowered)
    if media_type == _URLENCODED:
        return html.parse(read_urlencoded(body))
    if media_type == _MULTIPART:
        parts = read_multipart(body, options.get(b"boundary"))
        if reading is Reading.BY_SHAPE and jotform.looks_like(parts):
            return jotform.parse(parts)
        return html.parse(parts)
    raise PayloadError(415, f"Send the form as application/json, {_URLENCODED} or {_MULTIPART}.")


def _json_object(body: bytes) -> dict[str, object]:
    """Decode a JSON body that must hold an object."""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(400, "The body is not valid JSON.") from exc
    payload = as_object(decoded)
    if payload is None:
        raise PayloadError(
            422, 'The JSON body must be an object, such as {"matrix_id": "@you:example.org"}.'
        )
    return payload


def _by_platform(
    platform: str, payload: dict[str, object], headers: Mapping[str, str]
) -> Submission:
    """Parse with the platform whose signature header came along, whatever the body's shape."""
    if platform == "tally":
        return tally.parse(payload)
    if platform == "typeform":
        return typeform.parse(payload)
    return formbricks.parse(payload, headers)


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

"""Avatars as Knock keeps them: `mxc://` URIs read strictly, and images known by their bytes.

An avatar's content comes from whoever set it: its Content-Type is never trusted. Only a raster
image whose first bytes say so is kept (PNG, JPEG, WebP, GIF); SVG, HTML and anything else are
refused, so that the console never serves a document a browser would run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_AVATAR_BYTES = 1024 * 1024  # larger avatars are not kept

# The spec's server name (a DNS name or IPv4 address, or an IPv6 literal, and a port) and media
# id (letters, digits, `_` and `-`): anything else, a `/` or `..` included, is not a media URI.
_MXC = re.compile(
    r"mxc://(?P<server>(?:[A-Za-z0-9.-]{1,255}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?)"
    r"/(?P<media>[A-Za-z0-9_-]{1,255})"
)

# (content type, what the content starts with); WebP is a RIFF container, read below.
_SIGNATURES = (
    ("image/png", b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", b"\xff\xd8\xff"),
    ("image/gif", b"GIF87a"),
    ("image/gif", b"GIF89a"),
)


@dataclass(frozen=True)
class MediaId:
    """Where a piece of media lives: its homeserver and its id there."""

    server_name: str
    media_id: str

    def __str__(self) -> str:
        return f"mxc://{self.server_name}/{self.media_id}"


def read_mxc(uri: object) -> MediaId | None:
    """Read an `mxc://server/media-id` URI; None for anything else."""
    if not isinstance(uri, str):
        return None
    found = _MXC.fullmatch(uri)
    if found is None:
        return None
    return MediaId(found["server"], found["media"])


def image_type(content: bytes) -> str | None:
    """The raster image type the content's magic number says, or None (never SVG)."""
    for content_type, magic in _SIGNATURES:
        if content.startswith(magic):
            return content_type
    if len(content) >= 12 and content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return None

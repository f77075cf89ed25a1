"""Avatars: media URIs read strictly, and images known by their bytes, never by a label."""

from __future__ import annotations

import pytest

from knock.core.media import MediaId, image_type, read_mxc
from tests.images import PNG, SVG


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("mxc://example.org/AbC_12-x", MediaId("example.org", "AbC_12-x")),
        ("mxc://example.org:8448/abc", MediaId("example.org:8448", "abc")),
        ("mxc://127.0.0.1/abc", MediaId("127.0.0.1", "abc")),
        ("mxc://[::1]:8448/abc", MediaId("[::1]:8448", "abc")),
    ],
)
def test_a_media_uri_names_its_server_and_id(uri: str, expected: MediaId) -> None:
    assert read_mxc(uri) == expected
    assert str(expected) == uri


@pytest.mark.parametrize(
    "uri",
    [
        None,
        42,
        "",
        "https://example.org/avatar.png",
        "mxc://example.org",
        "mxc://example.org/",
        "mxc://example.org/../../_synapse/admin",
        "mxc://example.org/a/b",
        "mxc://example.org/a?b=c",
        "mxc://example.org/a%2Fb",
        "mxc://exa mple.org/abc",
        "mxc://example.org/abc\n",
        "MXC://example.org/abc",
    ],
)
def test_anything_else_is_no_media_uri(uri: object) -> None:
    assert read_mxc(uri) is None


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"GIF87a\x01\x00\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    ],
)
def test_raster_images_are_known_by_their_magic_numbers(content: bytes, expected: str) -> None:
    assert image_type(content) == expected


@pytest.mark.parametrize(
    "content",
    [
        SVG,
        b'<?xml version="1.0"?>' + SVG,
        b"<html><script>alert(1)</script></html>",
        b"",
        b"\x89PNG",  # too short to be a PNG
        b"RIFF\x24\x00\x00\x00WAVEfmt ",  # a RIFF file, but not WebP
        b"%PDF-1.7",
    ],
)
def test_anything_else_is_not_an_image_kept(content: bytes) -> None:
    assert image_type(content) is None

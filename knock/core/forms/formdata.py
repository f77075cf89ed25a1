"""Decoding of urlencoded and multipart form bodies into (name, value) pairs."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from .model import PayloadError

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

_NOT_UTF8 = "The form body is not valid UTF-8; send it UTF-8 encoded."


def read_urlencoded(body: bytes) -> list[tuple[str, str]]:
    """Decode an ``application/x-www-form-urlencoded`` body, keeping empty values."""
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except ValueError as exc:
        raise PayloadError(400, _NOT_UTF8) from exc


def read_multipart(body: bytes, boundary: bytes | None) -> list[tuple[str, str]]:
    """Decode the text parts of a ``multipart/form-data`` body; uploaded files are skipped."""
    if not boundary:
        raise PayloadError(400, "The multipart Content-Type header has no boundary parameter.")
    collector = _PartCollector()
    try:
        parser = MultipartParser(boundary, collector.callbacks())
        parser.write(body)
        parser.finalize()
    except ValueError as exc:
        raise PayloadError(400, "The multipart body is malformed.") from exc
    # The parser accepts a truncated body silently; its last part would be lost.
    if parser.state != MultipartState.END:
        raise PayloadError(400, "The multipart body ends before its closing boundary.")
    return collector.parts


def _utf8(data: bytes) -> str:
    """Decode UTF-8 text from a form body, answering 400 when it is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(400, _NOT_UTF8) from exc


class _PartCollector:
    """Gathers the parts a streaming multipart parser reports through its callbacks."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, str]] = []
        self._headers: dict[bytes, bytes] = {}
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._data = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        """Return the callbacks to hand to the parser."""
        return {
            "on_part_begin": self._begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_part_data": self._part_data,
            "on_part_end": self._end,
        }

    def _begin(self) -> None:
        self._headers = {}
        self._data = bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        name = bytes(self._header_name).strip().lower()
        self._headers[name] = bytes(self._header_value).strip()
        self._header_name = bytearray()
        self._header_value = bytearray()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self._data += data[start:end]

    def _end(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name")
        if name is None:
            raise PayloadError(400, "A multipart part has no name in its Content-Disposition.")
        if b"filename" not in options:
            self.parts.append((_utf8(name), _utf8(bytes(self._data))))

"""Where a page of the console's knocks starts: cursors written into links and read back."""

from __future__ import annotations

import pytest

from knock.core.knock_filter import Cursor


def test_a_cursor_reads_back_exactly() -> None:
    cursor = Cursor(1_800_000_000.123456, "0123456789abcdef0123")

    assert Cursor.parse(str(cursor)) == cursor


def test_an_id_with_underscores_survives() -> None:
    cursor = Cursor(1.5, "imported_knock_7")

    assert Cursor.parse(str(cursor)) == cursor


@pytest.mark.parametrize(
    "text",
    [None, "", "abc", "1.5", "1.5_", "_abc", "nan_abc", "inf_abc", "x_abc", "1_" + "a" * 200],
)
def test_anything_else_is_no_cursor(text: str | None) -> None:
    assert Cursor.parse(text) is None

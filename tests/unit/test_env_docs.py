"""docs/env_vars.md and .env.example name every variable Knock reads, and no other."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from knock.config import Settings, load_settings, settings_names
from knock.doors import PER_DOOR

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "env_vars.md"
EXAMPLE = ROOT / ".env.example"
ROOM = "!abc:example.org"

FIELDS = [name.upper() for name in Settings.model_fields]
# An upper-case name such as `LOG_LEVEL` or `RETENTION` (at least two characters).
UPPER_NAME = re.compile(r"(?<![A-Za-z0-9_])[A-Z][A-Z0-9_]*[A-Z0-9](?![A-Za-z0-9_])")
# A commented-out assignment in .env.example: `# NAME=value`.
EXAMPLE_ASSIGNMENT = re.compile(r"^#[ \t]?([A-Z][A-Z0-9_]*)=(.*)$", re.MULTILINE)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Remove every variable Knock reads, and leave no `.env` in the working directory."""
    names = set(settings_names())
    for name in list(os.environ):
        if name.upper() in names:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def whole_word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")


def table_rows(text: str) -> list[list[str]]:
    """Return the cells of every Markdown table row, header and separator rows left out."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] == "Variable" or set(cells[0]) <= set("-: "):
            continue
        rows.append(cells)
    return rows


def example_assignments() -> dict[str, str]:
    return dict(EXAMPLE_ASSIGNMENT.findall(EXAMPLE.read_text(encoding="utf-8")))


@pytest.mark.parametrize("name", settings_names())
def test_the_docs_name_every_variable(name: str) -> None:
    assert whole_word(name).search(DOCS.read_text(encoding="utf-8")), f"{name} is not documented"


@pytest.mark.parametrize("name", FIELDS)
def test_every_setting_has_a_row_in_a_docs_table(name: str) -> None:
    first_cells = [row[0] for row in table_rows(DOCS.read_text(encoding="utf-8"))]
    assert any(whole_word(name).search(cell) for cell in first_cells), f"no table row for {name}"


@pytest.mark.parametrize("name", settings_names())
def test_the_env_example_has_a_commented_line_for_every_variable(name: str) -> None:
    assert name in example_assignments(), f".env.example has no `# {name}=` line"


def test_the_docs_tables_list_only_variables_knock_reads() -> None:
    known = set(settings_names())
    listed = {
        name
        for row in table_rows(DOCS.read_text(encoding="utf-8"))
        for name in UPPER_NAME.findall(row[0])
    }
    assert listed, "the docs have no tables of variables"
    assert sorted(listed - known) == []


def test_the_env_example_sets_only_variables_knock_reads() -> None:
    assert sorted(set(example_assignments()) - set(settings_names())) == []


def test_the_documented_defaults_are_the_real_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEW_ROOM_ID", ROOM)
    defaults = load_settings(env_file=None)
    wrong = []
    for row in table_rows(DOCS.read_text(encoding="utf-8")):
        name, shown = row[0].strip("`"), row[1]
        field = Settings.model_fields.get(name.lower())
        if field is None or name == "NEW_ROOM_ID":
            continue
        if shown == "(unset)":
            if field.default not in (None, []):
                wrong.append(f"{name}: documented as unset, really {field.default!r}")
            continue
        with monkeypatch.context() as patch:
            patch.setenv(name, shown.strip("`"))
            typed = getattr(load_settings(env_file=None), name.lower())
        if typed != getattr(defaults, name.lower()):
            wrong.append(f"{name}: documented {shown}, really {getattr(defaults, name.lower())!r}")
    assert wrong == []


def test_the_docs_mark_exactly_the_per_door_settings() -> None:
    marked = {
        row[0].strip("`").lower()
        for row in table_rows(DOCS.read_text(encoding="utf-8"))
        if row[2].startswith("Per door. ")
    }
    assert sorted(marked) == sorted(PER_DOOR)


def test_the_room_is_documented_as_required() -> None:
    rows = {row[0].strip("`"): row for row in table_rows(DOCS.read_text(encoding="utf-8"))}
    assert rows["NEW_ROOM_ID"][1] == "(required)"


def test_the_example_values_are_accepted_when_uncommented(tmp_path: Path) -> None:
    # The `_FILE` lines name container secret paths that do not exist here.
    lines = [
        f"{name}={value}"
        for name, value in example_assignments().items()
        if not name.endswith("_FILE")
    ]
    dotenv = tmp_path / "example.env"
    dotenv.write_text("\n".join(lines) + "\n", encoding="utf-8")

    settings = load_settings(env_file=str(dotenv))

    assert settings.new_room_id == ROOM
    assert settings.signing_configured is True

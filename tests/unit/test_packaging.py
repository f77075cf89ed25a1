"""The wheel and the Docker image hold Knock and nothing of its test fixtures (knock_testing)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_MODULES = {"sandbox", "pg_sandbox", "demo"}
SIGNING = re.compile(r"^\s*def (sign_tally|sign_typeform|sign_standard_webhook)\b", re.MULTILINE)
# Left out of the copy the wheel is built from: version control, environments, caches, npm
# packages and what earlier builds left behind.
NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    ".demo",
    "build",
    "dist",
    "*.egg-*",
    "node_modules",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    """The wheel built from a copy of the repository, so no build output lands in the tree."""
    tree = tmp_path_factory.mktemp("tree") / "knock"
    shutil.copytree(ROOT, tree, ignore=NOT_COPIED)
    assert (tree / "knock_testing" / "__init__.py").is_file()  # there to be left out
    out = tmp_path_factory.mktemp("wheel")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    command = [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation"]
    built = subprocess.run(
        [*command, "--no-index", "-w", str(out)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (path,) = out.glob("knock-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_the_wheel_holds_knock_and_mknock_only(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    assert "knock/__init__.py" in names
    assert "mknock.py" in names
    top = {name.split("/")[0] for name in names}
    info = {name for name in top if name.endswith(".dist-info")}
    assert top - info == {"knock", "mknock.py"}
    assert not [name for name in names if name.startswith("knock_testing/")]


def test_no_test_fixture_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    modules = [name for name in wheel.namelist() if name.endswith(".py")]
    assert [name for name in modules if Path(name).stem in FIXTURE_MODULES] == []
    assert [name for name in modules if SIGNING.search(wheel.read(name).decode())] == []


def test_the_docker_image_copies_no_test_fixture() -> None:
    copies = [
        shlex.split(line)[1:]
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip().upper().startswith("COPY ")
    ]
    assert ["knock", "./knock"] in copies
    sources = [word for args in copies for word in args[:-1] if not word.startswith("--")]
    assert not [source for source in sources if source in {".", "./"} or "knock_testing" in source]


def test_the_wheel_ships_swagger_ui_for_the_docs_page(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    shipped = {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE", "NOTICE"}
    assert {f"knock/web/swagger_ui/{name}" for name in shipped} <= names


def test_the_wheel_ships_the_pages_templates_and_scripts(wheel: zipfile.ZipFile) -> None:
    needed = {"static/pow.js", "static/knock.js", "static/console.js", "templates/knock.html"}
    needed.add("templates/console/base.html")
    web = ROOT / "knock" / "web"
    shipped = {
        path.relative_to(web).as_posix()
        for folder in ("static", "templates")
        for path in (web / folder).rglob("*")
        if path.is_file()
    }
    assert needed <= shipped
    assert {f"knock/web/{name}" for name in shipped} <= set(wheel.namelist())

"""deploy/systemd/knock.service: the unit the README sets up, checked by systemd's own tools
(`make test` installs Debian's systemd when systemd-analyze is missing).

`systemd-analyze verify` loads a unit as systemd would, and refuses one whose ExecStart program
does not exist. The unit names /opt/knock/.venv, where the README installs Knock; the test verifies
a copy that names this test run's own environment instead (where `knock` is installed, as the
README's `pip install` puts it there), and nothing else changes. verify only warns about an
unknown or malformed setting (its exit status stays 0), so the test takes any output as a failure;
one test shows that a misspelt value does make output. `systemd-analyze security --offline`
scores the sandboxing. What the unit cannot show outside a running systemd (the credentials, the
sandbox itself at run time) stays unchecked here.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from knock.config import SECRET_SETTINGS, settings_names

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "knock.service"
# Where the README installs Knock, in ExecStart.
INSTALLED = "/opt/knock/.venv"
# A commented-out optional line: `#LoadCredential=...` or `#Environment=...`.
OPTIONAL = re.compile(r"^#((?:LoadCredential|Environment)=.*)$", re.MULTILINE)
# `Environment=API_KEY_FILE=%d/api_key` (optionally commented out).
FILE_SETTING = re.compile(r"^#?Environment=([A-Z][A-Z0-9_]*_FILE)=(\S+)$", re.MULTILINE)
# `LoadCredential=api_key:/etc/knock/credentials/api_key` (optionally commented out).
CREDENTIAL = re.compile(r"^(#?)LoadCredential=([a-z_]+):(\S+)$", re.MULTILINE)
# The most exposure systemd-analyze may report, times ten (its `--threshold` scale): 2.0, "OK".
EXPOSURE = 20


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze") or (
        "/usr/bin/systemd-analyze" if Path("/usr/bin/systemd-analyze").exists() else None
    )
    if found is None:
        pytest.fail("systemd-analyze is missing (Debian package: systemd; `make test` installs it)")
    return found


def settings(text: str) -> list[tuple[str, str]]:
    """Every `Key=value` line of the unit that is not commented out, in order."""
    found = []
    for line in text.splitlines():
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.append((key, value))
    return found


def setting(text: str, key: str) -> list[str]:
    return [value for name, value in settings(text) if name == key]


def installed_here(text: str, directory: Path) -> Path:
    """A copy of the unit whose ExecStart names this test run's own environment."""
    knock = Path(sys.prefix) / "bin" / "knock"
    assert knock.is_file(), f"{knock} is missing: install Knock in this environment (make venv)"
    lines = text.splitlines(keepends=True)
    (start,) = [n for n, line in enumerate(lines) if line.startswith("ExecStart=")]
    assert INSTALLED in lines[start], f"ExecStart does not start {INSTALLED}/bin/knock"
    lines[start] = lines[start].replace(INSTALLED, sys.prefix)
    unit = directory / "knock.service"
    unit.write_text("".join(lines), encoding="utf-8")
    return unit


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [systemd_analyze(), "verify", "--man=no", str(unit)],
        cwd=unit.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_unit_passes_systemd_analyze_verify_without_a_word(tmp_path: Path) -> None:
    checked = verify(installed_here(UNIT.read_text(encoding="utf-8"), tmp_path))

    assert checked.returncode == 0, checked.stderr
    assert checked.stdout + checked.stderr == ""


def test_the_unit_with_every_optional_secret_switched_on_passes_too(tmp_path: Path) -> None:
    text = UNIT.read_text(encoding="utf-8")
    switched_on, count = OPTIONAL.subn(r"\1", text)
    assert count >= 2, "the unit offers no optional secret"

    checked = verify(installed_here(switched_on, tmp_path))

    assert checked.returncode == 0, checked.stderr
    assert checked.stdout + checked.stderr == ""


def test_verify_does_speak_up_about_a_misspelt_value(tmp_path: Path) -> None:
    text = UNIT.read_text(encoding="utf-8")
    assert "ProtectSystem=strict\n" in text
    misspelt = text.replace("ProtectSystem=strict\n", "ProtectSystem=strickt\n")

    checked = verify(installed_here(misspelt, tmp_path))

    assert "strickt" in checked.stdout + checked.stderr


def test_the_sandbox_exposure_is_ok_by_systemd_analyze_security(tmp_path: Path) -> None:
    unit = installed_here(UNIT.read_text(encoding="utf-8"), tmp_path)

    scored = subprocess.run(
        [systemd_analyze(), "security", "--offline=yes", f"--threshold={EXPOSURE}", str(unit)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    overall = [line for line in scored.stdout.splitlines() if "Overall exposure" in line]
    assert scored.returncode == 0, "\n".join(overall) or scored.stdout + scored.stderr


def test_the_unit_runs_knock_as_its_own_user_in_a_read_only_system() -> None:
    text = UNIT.read_text(encoding="utf-8")

    assert setting(text, "User") == ["knock"] or setting(text, "DynamicUser") == ["yes"]
    for key, value in (
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("CapabilityBoundingSet", ""),
        ("StateDirectory", "knock"),
        ("StateDirectoryMode", "0700"),
        ("WorkingDirectory", "%S/knock"),
        ("UMask", "0077"),
    ):
        assert setting(text, key) == [value], key
    assert setting(text, "EnvironmentFile") == ["/etc/knock/knock.env"]
    assert "ReadWritePaths" not in dict(settings(text))  # the state directory is all it writes


def test_knock_listens_where_the_reverse_proxies_send_and_believes_only_them() -> None:
    text = UNIT.read_text(encoding="utf-8")
    (start,) = setting(text, "ExecStart")
    words = shlex.split(start)
    address = f"{words[words.index('--host') + 1]}:{words[words.index('--port') + 1]}"

    assert words[0] == f"{INSTALLED}/bin/knock" and words[1] == "serve"
    assert address == "127.0.0.1:8000"
    assert f"reverse_proxy {address}" in (ROOT / "deploy" / "caddy" / "Caddyfile").read_text()
    assert f"proxy_pass http://{address};" in (ROOT / "deploy" / "nginx" / "knock.conf").read_text()
    assert "TRUSTED_PROXIES=127.0.0.1" in setting(text, "Environment")


def test_every_file_setting_the_unit_names_is_a_secret_knock_reads_from_its_credential() -> None:
    text = UNIT.read_text(encoding="utf-8")
    known = set(settings_names())
    credentials = {name: (off, path) for off, name, path in CREDENTIAL.findall(text)}
    named = FILE_SETTING.findall(text)

    assert len(named) == len(credentials) >= 2
    for variable, value in named:
        assert variable in known, f"{variable} is not a setting Knock reads (knock/config.py)"
        secret = variable.removesuffix("_FILE").lower()
        assert secret in SECRET_SETTINGS, variable
        # `%d/api_key`: the credential of the same name, loaded whenever the setting is set.
        assert value == f"%d/{secret}", variable
        assert secret in credentials, f"{variable} names a credential the unit does not load"
        commented = f"#Environment={variable}=" in text
        assert (credentials[secret][0] == "#") == commented, variable
        assert credentials[secret][1] == f"/etc/knock/credentials/{secret}"


def test_the_command_line_runs_the_installed_knock_up_to_its_settings(tmp_path: Path) -> None:
    # The unit's own ExecStart, with this environment's `knock`: it parses and reads settings.
    (start,) = setting(UNIT.read_text(encoding="utf-8"), "ExecStart")
    words = shlex.split(start.replace(INSTALLED, sys.prefix))

    ran = subprocess.run(
        words,
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert ran.returncode == 2
    assert ran.stderr.strip() == "knock: NEW_ROOM_ID is required (a room id like !abc:example.org)"

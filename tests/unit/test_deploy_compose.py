"""compose.yaml: valid by the Compose Specification's own JSON schema, and wired as the README
says.

The schema is vendored with its licence in tests/data/compose-spec (no network), and checked
with `jsonschema`. No container engine runs here, so what Compose itself would add (reading
.env, mounting the secrets, starting PostgreSQL) is not exercised; the image's install and
command are, by tests/integration/test_image.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from knock.config import SECRET_SETTINGS, settings_names
from tests import dockerfile

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
SCHEMA = ROOT / "tests" / "data" / "compose-spec" / "compose-spec.json"
SECRETS = "/run/secrets/"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def problems(document: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_compose_yaml_is_valid_by_the_compose_specification_schema() -> None:
    assert problems(compose()) == []


def test_the_schema_refuses_a_misspelt_key() -> None:
    document = compose()
    document["services"]["knock"]["enviroment"] = {"NEW_ROOM_ID": "!abc:example.org"}

    assert problems(document) != []


def test_every_secret_reaches_knock_as_a_file_through_a_setting_it_reads() -> None:
    document = compose()
    knock = document["services"]["knock"]
    known = set(settings_names())
    files = {
        variable: value
        for variable, value in knock["environment"].items()
        if str(value).startswith(SECRETS)
    }

    assert set(files) >= {"API_KEY_FILE", "WEBHOOK_TOKEN_FILE", "DATABASE_URL_FILE"}
    assert sorted(files.values()) == sorted(SECRETS + name for name in knock["secrets"])
    for variable, value in files.items():
        assert variable in known, f"{variable} is not a setting Knock reads (knock/config.py)"
        secret = variable.removesuffix("_FILE").lower()
        assert secret in SECRET_SETTINGS and value == SECRETS + secret, variable
        assert document["secrets"][secret] == {"file": f"./secrets/{secret}"}
    # Nothing secret is written into the file itself.
    assert not {v.removesuffix("_FILE").upper() for v in files} & set(knock["environment"])
    assert "/secrets/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_knock_keeps_its_state_in_a_volume_at_the_images_working_directory() -> None:
    knock = compose()["services"]["knock"]
    data = dockerfile.every("WORKDIR")[-1]
    port = dockerfile.exposed_port()

    assert knock["volumes"] == [f"knock-data:{data}"]
    for variable in ("TOKENS_FILE", "BLOCKLIST_FILE", "ALLOWLIST_FILE"):
        assert knock["environment"][variable].startswith(f"{data}/"), variable
    # Everything else is read-only; only a reverse proxy on the host reaches the port.
    assert knock["read_only"] is True
    assert knock["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert "command" not in knock and "entrypoint" not in knock  # the image's CMD, as tested


def test_postgresql_is_optional_under_the_postgres_profile() -> None:
    services = compose()["services"]
    postgres = services["postgres"]
    knock = services["knock"]

    assert postgres["profiles"] == ["postgres"]
    assert "profiles" not in knock  # Knock itself always starts
    # Started first when the profile is on; not needed when it is off.
    assert knock["depends_on"]["postgres"] == {"condition": "service_healthy", "required": False}
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == SECRETS + "postgres_password"
    assert postgres["secrets"] == ["postgres_password"]
    assert "ports" not in postgres  # reached by Knock on the Compose network only
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]

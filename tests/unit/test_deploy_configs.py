"""deploy/: the reverse proxy configurations the README offers, checked by each server's own
validator (`make test` installs Debian's caddy and nginx)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CADDYFILE = ROOT / "deploy" / "caddy" / "Caddyfile"
NGINX_CONF = ROOT / "deploy" / "nginx" / "knock.conf"
# The certificate lines of knock.conf, whose files the test makes.
CERTIFICATE = re.compile(r"^(\s*ssl_certificate(?:_key)?\s+)(\S+);", re.MULTILINE)


def tool(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )
    if found is None:
        pytest.fail(f"{name} is not installed (Debian package: {name}; `make test` installs it)")
    return found


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KNOCK_DOMAIN"}  # the file's default name
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate and key for knock.example.org."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    made = run(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-subj", "/CN=knock.example.org", "-keyout", str(key), "-out", str(cert),
        cwd=directory,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return cert, key


def test_the_caddyfile_is_valid_for_caddy(tmp_path: Path) -> None:
    checked = run(
        tool("caddy"), "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile",
        cwd=tmp_path,
    )  # fmt: skip

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Valid configuration" in checked.stdout + checked.stderr
    # Caddy formats its files one way; a file in that form reads the same everywhere.
    assert "not formatted" not in checked.stderr


def test_the_caddyfile_serves_the_name_over_https_and_proxies_to_knock_with_a_body_limit(
    tmp_path: Path,
) -> None:
    adapted = run(
        tool("caddy"), "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile",
        cwd=tmp_path,
    )  # fmt: skip
    assert adapted.returncode == 0, adapted.stderr
    (server,) = json.loads(adapted.stdout)["apps"]["http"]["servers"].values()
    (route,) = server["routes"]
    (subroute,) = route["handle"]
    handlers = {h["handler"]: h for r in subroute["routes"] for h in r["handle"]}

    assert server["listen"] == [":443"]  # a site name: Caddy gets its certificate itself
    assert route["match"] == [{"host": ["knock.example.org"]}]
    assert handlers["request_body"]["max_size"] == 1_000_000
    assert handlers["reverse_proxy"]["upstreams"] == [{"dial": "127.0.0.1:8000"}]


def test_the_nginx_site_passes_nginx_t_with_a_real_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    paths = iter([cert, key])
    site = CERTIFICATE.sub(lambda m: f"{m.group(1)}{next(paths)};", NGINX_CONF.read_text())
    assert next(paths, None) is None, "knock.conf names no certificate and key"
    (tmp_path / "knock.conf").write_text(site, encoding="utf-8")
    temp = [
        f"{kind}_temp_path {tmp_path / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    ]
    (tmp_path / "nginx.conf").write_text(
        "\n".join(
            [
                f"pid {tmp_path / 'nginx.pid'};",
                f"error_log {tmp_path / 'error.log'};",
                "events {}",
                "http {",
                f"    access_log {tmp_path / 'access.log'};",
                *(f"    {line}" for line in temp),
                f"    include {tmp_path / 'knock.conf'};",
                "}",
            ]
        )
        + "\n",
        encoding="utf-8",
    )

    checked = run(
        tool("nginx"), "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
        "-c", str(tmp_path / "nginx.conf"),
        cwd=tmp_path,
    )  # fmt: skip

    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


def test_the_nginx_site_sets_the_forwarded_headers_tls_and_a_body_limit() -> None:
    text = NGINX_CONF.read_text(encoding="utf-8")

    assert "listen 443 ssl;" in text
    assert "proxy_pass http://127.0.0.1:8000;" in text
    # The connecting address, never a client's own X-Forwarded-For.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in text
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in text
    assert "client_max_body_size 1m;" in text

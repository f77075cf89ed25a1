"""A throwaway PostgreSQL cluster on loopback, for the test suite and the benchmarks.

The cluster lives in a temporary directory, listens on a free port on 127.0.0.1, trusts local
connections and is stopped and deleted on exit. PostgreSQL refuses to run as root, so when this
process is root the cluster is owned and run by the ``postgres`` account that Debian's package
creates. Binaries are found on PATH or in Debian's ``/usr/lib/postgresql/<version>/bin``
(``make test`` installs the package when neither has them).

Usage::

    with PostgresSandbox() as pg:
        url = pg.create_database("knock_test")   # postgresql://knock@127.0.0.1:PORT/knock_test
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from knock_testing.synapse import free_port

__all__ = ["PostgresSandbox", "postgres_bin_dir"]

_SUPERUSER = "knock"


def postgres_bin_dir() -> Path | None:
    """Where initdb, pg_ctl and psql are, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


def _cluster_owner() -> pwd.struct_passwd:
    """The account a root process runs the cluster as: Debian's `postgres`, made if missing."""
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam("postgres")


class PostgresSandbox:
    """Start with ``with``; ``durable=False`` turns fsync off for a faster test suite."""

    def __init__(self, *, durable: bool = True) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (Debian package: postgresql)")
        self.bin = bin_dir
        self.durable = durable
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="knock-pg-"))
        self.data = self.dir / "data"
        self._run_as: dict[str, Any] = {}
        if os.geteuid() == 0:
            owner = _cluster_owner()
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self._run_as = {"user": owner.pw_uid, "group": owner.pw_gid}

    def url(self, database: str = "postgres") -> str:
        """A plain DATABASE_URL for one database of the cluster."""
        return f"postgresql://{_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", _SUPERUSER, "--auth=trust", "-E", "UTF8",
            "--no-sync", "--locale=C",
        )  # fmt: skip
        options = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.dir}",
            "-c max_connections=300",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"),
            "-o", " ".join(options), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement through psql and return what it printed."""
        return self._run(
            "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            "-h", "127.0.0.1", "-p", str(self.port), "-U", _SUPERUSER, "-d", database,
            "-c", statement,
        ).strip()  # fmt: skip

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still on it."""
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(
                (self.dir / "server.log").read_text(errors="replace").splitlines()[-lines:]
            )
        except OSError:
            return ""

    def _run(self, program: str, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            [str(self.bin / program), *args],
            capture_output=True,
            text=True,
            cwd=self.dir,
            timeout=120,
            **self._run_as,
        )
        if check and done.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({done.returncode}): {done.stderr.strip()[:1000]}\n"
                f"{self.log_tail()}"
            )
        return str(done.stdout)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

"""Pages in headless Chromium: served from loopback, reporting back by POST.

A `Site` answers GETs with fixed files (and the same extra headers on every answer, such as a
Content-Security-Policy) and keeps every POST in a queue; `Chromium` opens one URL in a fresh
profile and is stopped when the block ends. The page's own scripts send what they found with
`fetch` or `navigator.sendBeacon`, and the caller reads it with `Site.next_post`.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def find_chromium() -> str | None:
    """The Chromium binary on the PATH (Debian's `chromium` package), or None."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class Posted:
    """One POST the page made."""

    path: str
    content_type: str
    body: bytes


class Site:
    """An HTTP server on 127.0.0.1 with fixed answers to GET; POSTs go to `next_post`.

    `files` maps a path to (body, content type); a POST is answered with `post_answer`.
    """

    def __init__(
        self,
        files: Mapping[str, tuple[bytes, str]],
        headers: Mapping[str, str] | None = None,
        post_answer: tuple[bytes, str] = (b"ok", "text/plain"),
    ) -> None:
        self.files = dict(files)
        self.headers = dict(headers or {})
        self.post_answer = post_answer
        self.posts: queue.Queue[Posted] = queue.Queue()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The site's root, `http://127.0.0.1:<port>`, without a trailing slash."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def next_post(self, timeout: float) -> Posted:
        """The next POST the page made; raises queue.Empty after `timeout` seconds."""
        return self.posts.get(timeout=timeout)

    def __enter__(self) -> Site:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                found = site.files.get(path)
                body, kind = found or (b"not found", "text/plain")
                self._answer(200 if found else 404, body, kind)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                kind = self.headers.get("Content-Type", "")
                site.posts.put(Posted(self.path, kind, body))
                self._answer(200, *site.post_answer)

            def _answer(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                for name, value in site.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


class Chromium:
    """Headless Chromium showing `url`, in a throwaway profile, until the block ends."""

    def __init__(self, url: str, binary: str | None = None) -> None:
        found = binary or find_chromium()
        if found is None:
            raise RuntimeError("Chromium is not installed")
        self.binary = found
        self.url = url
        self._profile = tempfile.TemporaryDirectory(
            prefix="knock-chromium-", ignore_cleanup_errors=True
        )
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        """What Chromium wrote to stdout and stderr."""
        return Path(self._profile.name) / "chromium.log"

    def __enter__(self) -> Chromium:
        profile = Path(self._profile.name)
        with self.log.open("wb") as out:
            self._process = subprocess.Popen(
                [self.binary, *FLAGS, f"--user-data-dir={profile / 'data'}", self.url],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def __exit__(self, *exc: object) -> None:
        process = self._process
        if process is not None:
            # Chromium's own children (renderers, the GPU and network services) are in the
            # session it was started in: all of them go at once, before their profile does.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
            deadline = time.monotonic() + 10
            while _group_alive(process.pid) and time.monotonic() < deadline:
                time.sleep(0.02)
        self._profile.cleanup()


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True

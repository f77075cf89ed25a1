"""The interactive docs at /docs: Swagger UI from Knock's own files, nothing from elsewhere."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import httpx
import pytest

from knock.services.runtime import Runtime
from knock.web.app import KnockApp


class _References(HTMLParser):
    """Every URL the page makes a browser fetch: scripts, stylesheets, icons."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=KnockApp(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://knock") as client:
        yield client


async def test_the_docs_page_loads_only_files_knock_serves(api: httpx.AsyncClient) -> None:
    page = await api.get("/docs")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    found = _References()
    found.feed(page.text)
    # The description Swagger UI reads, named in its script.
    found.urls += re.findall(r"url: '([^']*)'", page.text)
    assert len(found.urls) == 4  # the script, the stylesheet, the icon, the description
    assert all(url.startswith("/") and not url.startswith("//") for url in found.urls)
    assert "http://" not in page.text and "https://" not in page.text
    for url in found.urls:
        fetched = await api.get(url)
        assert fetched.status_code == 200, url
        assert fetched.content, url


async def test_the_docs_files_come_with_types_a_browser_runs(api: httpx.AsyncClient) -> None:
    script = await api.get("/docs/assets/swagger-ui-bundle.js")
    style = await api.get("/docs/assets/swagger-ui.css")

    assert "javascript" in script.headers["content-type"]
    assert style.headers["content-type"].startswith("text/css")
    assert b"SwaggerUIBundle" in script.content


async def test_the_docs_do_not_send_the_description_to_an_online_validator(
    api: httpx.AsyncClient,
) -> None:
    page = await api.get("/docs")

    assert '"validatorUrl": null' in page.text


async def test_a_missing_docs_file_is_404_not_an_error(api: httpx.AsyncClient) -> None:
    missing = await api.get("/docs/assets/no-such-file.js")

    assert missing.status_code == 404

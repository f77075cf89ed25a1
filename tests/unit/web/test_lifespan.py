"""Start-up that fails in an unexpected way stops the process instead of serving without Knock.

The runtime here is a stand-in whose start raises: a real one cannot be made to fail this way on
demand (the case seen was a race between processes starting together, since fixed).
"""

from __future__ import annotations

from typing import Any

from knock.web.app import KnockApp


class _BrokenRuntime:
    settings: Any = None
    stopped = False

    async def start(self) -> None:
        raise RuntimeError("the database said something unexpected\nsecond line")

    async def stop(self) -> None:
        self.stopped = True


async def test_an_unexpected_start_up_error_fails_the_lifespan_in_one_line() -> None:
    runtime = _BrokenRuntime()
    app = KnockApp.__new__(KnockApp)
    app.runtime = runtime  # type: ignore[assignment]
    sent: list[dict[str, Any]] = []
    messages = iter([{"type": "lifespan.startup"}])

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)  # type: ignore[arg-type]

    expected = "Knock could not start: RuntimeError: the database said something unexpected"
    assert sent == [{"type": "lifespan.startup.failed", "message": expected}]
    assert runtime.stopped

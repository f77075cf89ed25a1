"""What a log line is about is set for a block, and put back after it, whatever it marked."""

from __future__ import annotations

import asyncio

from knock import log_context


def test_a_block_marks_its_lines_and_puts_everything_back_after() -> None:
    assert log_context.current() == {}
    with log_context.about(door="club"):
        assert log_context.current() == {"door": "club"}
        with log_context.about(knock_id="k-1", job="invite:3"):
            assert log_context.current() == {"door": "club", "knock_id": "k-1", "job": "invite:3"}
        log_context.mark_knock("k-2")
        assert log_context.current() == {"door": "club", "knock_id": "k-2"}
    assert log_context.current() == {}


def test_a_block_left_by_an_exception_puts_everything_back_too() -> None:
    try:
        with log_context.about(knock_id="k-1"):
            raise LookupError
    except LookupError:
        pass
    assert log_context.current() == {}


def test_concurrent_tasks_each_keep_their_own() -> None:
    async def handle(knock_id: str, started: asyncio.Event, other: asyncio.Event) -> str | None:
        with log_context.about(knock_id=knock_id):
            started.set()
            await other.wait()  # the other task has set its own meanwhile
            return log_context.current().get("knock_id")

    async def both() -> list[str | None]:
        one, two = asyncio.Event(), asyncio.Event()
        return list(await asyncio.gather(handle("k-1", one, two), handle("k-2", two, one)))

    assert asyncio.run(both()) == ["k-1", "k-2"]

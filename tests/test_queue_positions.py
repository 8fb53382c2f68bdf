"""A call that must wait is told its place in line, at most once a second, until it runs;
only past the queue's bound is it refused."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from ml.errors import Busy
from ml.runtime import ServiceRuntime, queue_watcher
from tests.conftest import mnist_png


async def watched_call(runtime: ServiceRuntime, key, fn, *args):
    """Run a call with its own watcher; returns (result, [(time, position, eta), ...])."""
    seen: list[tuple[float, int, float]] = []

    async def watch(position: int, eta: float) -> None:
        seen.append((time.monotonic(), position, eta))

    queue_watcher.set(watch)  # this task's context only
    return await runtime.run(key, fn, *args), seen


async def test_waiting_calls_learn_their_place_in_order_and_then_run():
    runtime = ServiceRuntime("t", workers=1, queue_limit=5)
    release = threading.Event()
    order: list[str] = []

    def work(name: str) -> str:
        if name == "first":
            release.wait(5)
        order.append(name)
        return name

    first = asyncio.create_task(watched_call(runtime, "first", work, "first"))
    await asyncio.sleep(0.05)
    waiting = [asyncio.create_task(watched_call(runtime, name, work, name)) for name in ("a", "b", "c")]
    await asyncio.sleep(0.1)
    assert runtime.waiting == 3 and runtime.pending == 4
    release.set()
    results = await asyncio.gather(first, *waiting)
    assert order == ["first", "a", "b", "c"]  # first come, first served
    assert results[0][1] == []  # the first ran at once: nothing to report
    assert [seen[0][1] for _, seen in results[1:]] == [1, 2, 3]
    # Nothing had finished when they queued: the estimate is the starting mean (0.5 s) per call ahead.
    assert [seen[0][2] for _, seen in results[1:]] == [0.5, 1.0, 1.5]
    assert runtime.pending == 0 and runtime.waiting == 0
    runtime.shutdown()


async def test_a_waiting_call_is_updated_at_most_once_a_second_as_its_place_moves():
    runtime = ServiceRuntime("t", workers=1, queue_limit=5)
    gates = [threading.Event() for _ in range(2)]
    ahead = [asyncio.create_task(runtime.run(f"ahead{i}", gates[i].wait, 5)) for i in range(2)]
    await asyncio.sleep(0.05)
    mine = asyncio.create_task(watched_call(runtime, "mine", lambda: "done"))
    await asyncio.sleep(1.5)
    gates[0].set()  # the line moves: position 1 now
    await asyncio.sleep(1.2)
    gates[1].set()
    result, seen = await mine
    await asyncio.gather(*ahead)
    assert result == "done"
    positions = [position for _, position, _ in seen]
    assert positions[0] == 2  # ahead0 runs and ahead1 waits first: mine is 2nd in line
    assert positions == sorted(positions, reverse=True) and positions[-1] == 1 and 2 in positions
    gaps = [b - a for (a, _, _), (b, _, _) in zip(seen, seen[1:])]
    assert all(gap >= 0.95 for gap in gaps), gaps
    assert 2 <= len(seen) <= 4  # about 2.7 s of waiting
    runtime.shutdown()


async def test_busy_only_past_the_bound_and_a_cancelled_waiter_keeps_the_line_moving():
    runtime = ServiceRuntime("t", workers=1, queue_limit=2)
    release = threading.Event()
    running = asyncio.create_task(runtime.run("r", release.wait, 5))
    await asyncio.sleep(0.05)
    first_waiter = asyncio.create_task(runtime.run("w1", lambda: "w1"))
    second_waiter = asyncio.create_task(runtime.run("w2", lambda: "w2"))
    await asyncio.sleep(0.05)
    with pytest.raises(Busy) as refused:  # 1 running + 2 waiting: the bound
        await runtime.run("w3", lambda: "w3")
    assert "try again in" in str(refused.value)
    first_waiter.cancel()  # the asker went away; its place is still worked off in order
    release.set()
    assert await second_waiter == "w2"
    await running
    await asyncio.sleep(0.05)
    assert runtime.pending == 0 and runtime.waiting == 0
    assert await runtime.run("after", lambda: "free") == "free"
    runtime.shutdown()


async def test_callers_sharing_a_call_see_its_place():
    runtime = ServiceRuntime("t", workers=1, queue_limit=3)
    release = threading.Event()
    calls = []
    blocker = asyncio.create_task(runtime.run("block", release.wait, 5))
    await asyncio.sleep(0.05)

    def compute():
        calls.append(1)
        return 42

    one = asyncio.create_task(watched_call(runtime, "same", compute))
    other = asyncio.create_task(watched_call(runtime, "same", compute))
    await asyncio.sleep(0.1)
    release.set()
    (a, seen_a), (b, seen_b) = await asyncio.gather(one, other)
    await blocker
    assert a == b == 42 and calls == [1]
    assert seen_a[0][1] == seen_b[0][1] == 1
    runtime.shutdown()


# ----- end to end, against the fake Discord ------------------------------------------------

def final_text(record) -> str:
    """The answer a user ends up seeing (a queued command's position line is replaced by it)."""
    return "\n".join(reply.text for reply in record.replies)


async def wait_answered(fake, record, timeout: float = 90) -> str:
    """Once answered, and a position line shown before was taken away."""
    def done() -> bool:
        answered = any(not r.content.startswith("queued:") for r in record.replies)
        return answered and (not record.original_edits or record.original_deleted)
    await fake.wait_until(done, timeout, "the command was never answered")
    return final_text(record)


@pytest.fixture
async def bot(home_with_model, point_discord_at):
    from tests.test_discord_e2e import bot_on_fake

    async with bot_on_fake(home_with_model, point_discord_at, heartbeat_interval_ms=500) as running:
        yield running


async def test_fifty_commands_at_once_in_one_server_with_default_settings(bot, mnist):
    """Nothing refused while the queue has room: every command is answered, the ones that wait
    are shown their place first, and their position lines change at most once a second."""
    import numpy as np

    from ml.digits.synthetic import render_photo

    rng = np.random.default_rng(7)
    photos = [render_photo([mnist.test_images[i]], rng) for i in range(50)]
    records = await asyncio.gather(*(
        bot.fake.run_slash(("bob", "alice")[i % 2], "digit", files={"image": (f"{i}.jpg", p, "image/jpeg")})
        for i, p in enumerate(photos)))
    answers = await asyncio.gather(*(wait_answered(bot.fake, r) for r in records))
    assert all("Digit reader" in a for a in answers), [a for a in answers if "Digit reader" not in a]
    queued = [r for r in records if r.original_edits]
    assert queued, "no command was shown a place in the queue"
    for record in queued:
        lines = [content for _, content in record.original_edits]
        assert all(line.startswith("queued: position ") and line.endswith(" s") for line in lines), lines
        positions = [int(line.split()[2].rstrip(",")) for line in lines]
        assert positions == sorted(positions, reverse=True) and 1 <= positions[-1] <= 49
        times = [at for at, _ in record.original_edits]
        assert all(b - a >= 0.9 for a, b in zip(times, times[1:]))
        assert record.original_deleted  # the position line gave way to the answer
    assert max(int(r.original_edits[0][1].split()[2].rstrip(",")) for r in queued) >= 5
    assert bot.fake.errors == []


async def test_one_members_flood_is_refused_not_the_server(bot, mnist):
    fake = bot.fake
    record = await fake.run_slash("alice", "config", {"per_minute": 3}, subcommand="user-rate")
    assert "3 model commands per minute" in (await fake.wait_for_reply(record)).text
    floods = await asyncio.gather(*(fake.run_slash("bob", "digit", files={"image": (f"{i}.png", mnist_png(mnist, i),
                                                                                     "image/png")})
                                    for i in range(5)))
    others = await fake.run_slash("alice", "digit", files={"image": ("a.png", mnist_png(mnist, 9), "image/png")})
    answers = await asyncio.gather(*(wait_answered(fake, r) for r in floods))
    refused = [a for a in answers if a.startswith("slow down")]
    assert len(refused) == 2 and sum("Digit reader" in a for a in answers) == 3
    assert all(a.startswith("slow down: you started 3 model commands in the last minute, try again in ")
               and a.endswith(" s (server admins: /config user-rate)") for a in refused), refused
    assert "Digit reader" in await wait_answered(fake, others)  # another member is not held back
    shown = await fake.wait_for_reply(await fake.run_slash("alice", "config", subcommand="show"))
    assert "3 a minute (/config user-rate)" in shown.text and "no limit (/config server-rate)" in shown.text


async def test_calls_still_waiting_at_shutdown_are_told_to_try_again():
    runtime = ServiceRuntime("t", workers=1, queue_limit=3)
    release = threading.Event()
    running = asyncio.create_task(runtime.run("r", release.wait, 5))
    await asyncio.sleep(0.05)
    waiting = [asyncio.create_task(runtime.run(f"w{i}", lambda: "ran")) for i in range(2)]
    await asyncio.sleep(0.05)
    release.set()
    runtime.shutdown(wait=True)  # the running call finishes; the waiting ones never start
    assert await running is True
    for task in waiting:
        with pytest.raises(Busy):
            await task
    assert runtime.pending == 0

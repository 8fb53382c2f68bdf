import asyncio
import threading
import time

import numpy as np
import pytest

from ml.errors import Busy
from ml.runtime import ServiceRuntime


async def test_identical_requests_in_flight_are_computed_once():
    runtime = ServiceRuntime("t", workers=1, queue_limit=4)
    calls = []

    def work(x):
        calls.append(x)
        time.sleep(0.2)
        return x * 2

    results = await asyncio.gather(*(runtime.run("same", work, 21) for _ in range(5)))
    assert results == [42] * 5
    assert calls == [21]
    assert runtime.shared_calls == 4
    runtime.shutdown()


async def test_a_full_queue_answers_busy_with_a_wait():
    runtime = ServiceRuntime("t", workers=1, queue_limit=1)
    release = threading.Event()
    first = asyncio.create_task(runtime.run("a", release.wait, 5))
    second = asyncio.create_task(runtime.run("b", release.wait, 5))
    await asyncio.sleep(0.05)
    with pytest.raises(Busy) as info:
        await runtime.run("c", release.wait, 5)
    assert "try again in" in str(info.value) and info.value.retry_after >= 1
    release.set()
    await asyncio.gather(first, second)
    assert await runtime.run("d", lambda: "free again") == "free again"
    runtime.shutdown()


async def test_work_runs_on_a_worker_thread_not_the_loop():
    runtime = ServiceRuntime("t")
    name = await runtime.run(None, lambda: threading.current_thread().name)
    assert name.startswith("ml-t") and name != threading.current_thread().name
    runtime.shutdown()


async def test_errors_reach_the_caller_and_free_the_slot():
    runtime = ServiceRuntime("t", workers=1, queue_limit=0)

    def fail():
        raise ValueError("bad")

    with pytest.raises(ValueError):
        await runtime.run("x", fail)
    assert runtime.pending == 0
    assert await runtime.run("x", lambda: 1) == 1
    runtime.shutdown()


async def test_event_loop_stays_responsive_while_20_predictions_run(app, mnist):
    """Heartbeats keep flowing: the loop's worst lag stays small while the model works."""
    from bot.commands import CommandContext, run_command
    from ml.digits.synthetic import render_photo
    from ml.runtime import LoopLagProbe
    from tests.conftest import bytes_input

    rng = np.random.default_rng(3)
    photos = [render_photo([mnist.test_images[i]], rng) for i in range(20)]
    ctx = CommandContext(app, "console", "tester")
    async with LoopLagProbe() as probe:
        replies = await asyncio.gather(*(run_command("digit", ctx, image=bytes_input(p)) for p in photos))
    assert all(not r.is_error for r in replies), [r.text for r in replies if r.is_error]
    assert app.runtime("digits").calls == 20
    assert len(probe.lags) > 20
    assert probe.max < 0.25, f"worst loop lag {probe.max:.3f} s"


async def test_the_lag_probe_sees_a_blocked_loop():
    """The probe itself: blocking the loop for 0.3 s must show up as lag."""
    from ml.runtime import LoopLagProbe

    async with LoopLagProbe() as probe:
        await asyncio.sleep(0.05)
        time.sleep(0.3)
        await asyncio.sleep(0.05)
    assert probe.max > 0.25

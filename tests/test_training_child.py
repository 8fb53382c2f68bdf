"""Training runs in a child process: the bot's heartbeats and event loop carry on while a
model trains, and a stop ends the child cleanly, leaving its checkpoint."""
from __future__ import annotations

import asyncio
import time

from bot.adapters.discord_bot import DiscordRunner
from bot.app import App
from ml.build_lock import BuildLock
from ml.runtime import LoopLagProbe
from ml.services import SERVICES
from tests.fake_discord import FakeDiscord


async def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_heartbeats_and_the_loop_stay_on_time_while_a_model_trains(home, point_discord_at):
    fake = await FakeDiscord(heartbeat_interval_ms=250).start()
    point_discord_at(fake)
    app = App(home, background_training=True, quick_training=True)
    app.trainer.specs = [SERVICES["digits"]]
    await app.start()
    runner = DiscordRunner(app, fake.token, guild_ids=[], guild_ready_timeout=0.05)
    task = asyncio.create_task(runner.run())
    try:
        await wait_for(lambda: runner.client and runner.client.is_ready(), 30, "the bot to connect")
        await wait_for(lambda: "digits" in app.trainer.building, 30, "the training child to start")
        child = app.trainer.building["digits"]
        acks = []
        async with LoopLagProbe() as probe:
            started = time.monotonic()
            while home.current("digits") is None:
                assert time.monotonic() - started < 180, "the quick digits model was not published"
                record = await fake.run_slash("alice", "status")
                await fake.wait_for_reply(record, timeout=10)
                acks.append(record.ack_latency)
                await asyncio.sleep(0.5)
            during = [t for t in fake.heartbeats if t >= started]
        gaps = [b - a for a, b in zip(during, during[1:])]
        assert await asyncio.wait_for(child.wait(), 30) == 0 and len(gaps) > 10
        assert max(gaps) < 1.5, f"a heartbeat waited {max(gaps):.2f} s while the model trained"
        assert probe.max < 0.5 and max(acks) < 0.5, (probe.max, max(acks))
        assert not app.trainer.queue  # published, and picked up
    finally:
        runner.request_stop()
        await asyncio.wait_for(task, 60)
        await fake.stop()


async def test_a_stop_interrupts_the_child_cleanly(home):
    # The full tone model: minutes of training, so it is surely mid-way (it reaches its training
    # loop sooner than the digit model, which first draws its pen-stroke digits).
    app = App(home, background_training=True)
    app.trainer.specs = [SERVICES["tone"]]
    await app.start()
    lock = BuildLock(home, "tone")
    await wait_for(lambda: (lock.holder() or None) and lock.holder().stage == "training", 120,
                   "the child to start training")
    child = app.trainer.building["tone"]
    assert "the tone model is still training [" in app.trainer.describe("tone")
    began = time.monotonic()
    await app.close()  # SIGINT to the child; it saves and exits
    assert child.returncode == 130 and time.monotonic() - began < 30
    assert home.current("tone") is None and lock.try_acquire()  # the lock went with it
    lock.release()

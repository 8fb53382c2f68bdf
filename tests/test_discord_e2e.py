"""End to end: mlbot's bot on the real discord.py client, against the fake Discord server."""
from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import logging
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from bot.app import App
from bot.adapters.discord_bot import DiscordRunner
from ml.runtime import LoopLagProbe
from tests.conftest import mnist_png
from tests.fake_discord import FakeDiscord

PNG = "image/png"


class BotUnderTest:
    def __init__(self, fake: FakeDiscord, runner: DiscordRunner, task: asyncio.Task):
        self.fake, self.runner, self.task = fake, runner, task

    @property
    def app(self) -> App:
        return self.runner.app


async def start_bot(fake: FakeDiscord, home, **runner_options) -> BotUnderTest:
    app = App(home)
    await app.start()
    runner = DiscordRunner(app, fake.token, guild_ids=runner_options.pop("guild_ids", []),
                           guild_ready_timeout=0.05, **runner_options)
    task = asyncio.create_task(runner.run())
    deadline = time.monotonic() + 20
    while not (runner.client and runner.client.is_ready() and fake.ready.is_set()):
        if task.done():
            raise RuntimeError(f"the bot stopped: {task.result()!r}")
        if time.monotonic() > deadline:
            raise TimeoutError("the bot did not connect to the fake Discord")
        await asyncio.sleep(0.02)
    return BotUnderTest(fake, runner, task)


async def stop_bot(bot: BotUnderTest) -> int:
    bot.runner.request_stop()
    return await asyncio.wait_for(bot.task, 30)


@contextlib.asynccontextmanager
async def bot_on_fake(home, point_discord_at, **fake_options):
    """A fake Discord (with `fake_options`) and the bot connected to it, stopped afterwards."""
    fake = await FakeDiscord(**fake_options).start()
    point_discord_at(fake)
    running = await start_bot(fake, home)
    try:
        yield running
    finally:
        await stop_bot(running)
        await fake.stop()


@pytest.fixture
async def bot(home_with_model, point_discord_at):
    async with bot_on_fake(home_with_model, point_discord_at, heartbeat_interval_ms=500) as running:
        yield running


def digits_png(mnist, digits: list[int]) -> bytes:
    """Dark digits on white paper, side by side, as a user would photograph them."""
    indices = [int(np.flatnonzero(mnist.test_labels == d)[0]) for d in digits]
    strip = np.concatenate([np.pad(255 - mnist.test_images[i], ((12, 12), (8, 8)), constant_values=255)
                            for i in indices], axis=1)
    buffer = io.BytesIO()
    Image.fromarray(strip).resize((strip.shape[1] * 4, strip.shape[0] * 4)).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_slash_digit_answers_with_the_digit_and_the_preview(bot, mnist):
    record = await bot.fake.run_slash("alice", "digit", files={"image": ("seven.png", mnist_png(mnist, 0), PNG)})
    reply = await bot.fake.wait_for_reply(record)
    assert record.ack_type == 5 and record.ack_latency < 3
    assert "I read" in reply.text or "Not sure" in reply.text
    assert [name for name, _ in reply.files] == ["model-input.png"]
    assert reply.files[0][1].startswith(b"\x89PNG")
    assert reply.embeds[0]["image"]["url"] == "attachment://model-input.png"
    assert not reply.ephemeral and bot.fake.errors == []


async def test_prefix_digit_with_an_attachment(bot, mnist):
    await bot.fake.user_says("bob", "!digit", files=[("photo.png", digits_png(mnist, [4]), PNG)])
    reply = await bot.fake.wait_for_channel_message()
    assert "Digit reader" in reply.text and reply.payload.get("message_reference")
    assert [name for name, _ in reply.files] == ["model-input.png"]


async def test_direct_messages_work_for_slash_and_typed_commands(bot, mnist):
    record = await bot.fake.run_slash("bob", "digit", dm=True, files={"image": ("a.png", mnist_png(mnist, 1), PNG)})
    assert "Digit reader" in (await bot.fake.wait_for_reply(record)).text
    await bot.fake.user_says("alice", "digit", dm=True, files=[("b.png", mnist_png(mnist, 2), PNG)])
    reply = await bot.fake.wait_for_channel_message(channel_id=bot.fake.dm_channels[bot.fake.users["alice"]["id"]]["id"])
    assert "Digit reader" in reply.text


async def test_a_bad_attachment_gets_an_ephemeral_line_and_the_bot_goes_on(bot, mnist):
    await bot.app.settings.set(bot.fake.guild_id, "cooldown_seconds", "120")
    record = await bot.fake.run_slash("alice", "digit", files={"image": ("notes.txt", b"not an image", "text/plain")})
    reply = await bot.fake.wait_for_reply(record)
    assert reply.ephemeral and record.original_deleted
    assert reply.content == "the file is not an image (send PNG, JPEG, WebP, GIF or BMP)"
    # The same member at once: a failed command does not use up their cooldown.
    record = await bot.fake.run_slash("alice", "digit", files={"image": ("ok.png", mnist_png(mnist, 3), PNG)})
    assert "Digit reader" in (await bot.fake.wait_for_reply(record)).text
    assert bot.fake.errors == []


async def test_a_429_is_retried_and_answered(bot):
    bot.fake.inject_429("POST", r"/webhooks/", count=1, retry_after=0.2)
    record = await bot.fake.run_slash("alice", "about")
    reply = await bot.fake.wait_for_reply(record)
    assert "mlbot" in reply.text
    assert bot.fake.faults[0]["count"] == 0  # the 429 was served, then the retry went through


async def test_a_server_error_is_retried(bot):
    bot.fake.inject_error(502, "POST", r"/webhooks/", count=1)
    record = await bot.fake.run_slash("alice", "about")
    assert "mlbot" in (await bot.fake.wait_for_reply(record, timeout=20)).text
    assert bot.fake.faults[0]["count"] == 0  # the 502 was served, then the retry went through


@pytest.mark.parametrize("how", ["reconnect", 4000])
async def test_a_dropped_gateway_is_resumed(bot, how):
    await bot.fake.drop_gateway(how)
    deadline = time.monotonic() + 20
    while bot.fake.resumes < 1:
        assert time.monotonic() < deadline, "the bot did not resume"
        await asyncio.sleep(0.05)
    assert bot.fake.identifies == 1  # resumed, not a new session
    record = await bot.fake.run_slash("bob", "help")
    assert "/digit" in (await bot.fake.wait_for_reply(record)).text


async def test_fifty_slash_commands_at_once(bot, mnist):
    """All acknowledged within 3 s and answered, while heartbeats and the loop keep flowing."""
    from ml.digits.synthetic import render_photo

    rng = np.random.default_rng(5)  # default settings: a busy server is not refused
    photos = [render_photo([mnist.test_images[i]], rng) for i in range(50)]
    # Earlier tests in this process leave millions of objects behind (music21's parsed scores):
    # a full garbage collection over them pauses the loop ~0.25 s, whatever the bot does. Park
    # them outside the collector so this measures the bot, as in a fresh bot process.
    gc.collect()
    gc.freeze()
    async with LoopLagProbe() as probe:
        started = time.monotonic()
        records = await asyncio.gather(*(
            bot.fake.run_slash(("bob", "alice")[i % 2], "digit", files={"image": (f"{i}.jpg", p, "image/jpeg")})
            for i, p in enumerate(photos)))
        # A command that waits shows its place in the queue first; the answer replaces it.
        await asyncio.gather(*(bot.fake.wait_until(
            lambda r=r: any(not m.content.startswith("queued:") for m in r.replies), 60) for r in records))
        replies = [r.replies[-1] for r in records]
        await asyncio.sleep(max(0.0, 2.0 - (time.monotonic() - started)))  # a window of at least 4 heartbeats
        ended = time.monotonic()
    gc.unfreeze()

    assert all(r.acknowledged_at is not None and r.ack_latency < 3 for r in records)
    assert all("Digit reader" in reply.text for reply in replies), [r.text for r in replies if "Digit" not in r.text]
    beats = [started] + [t for t in bot.fake.heartbeats if started <= t <= ended] + [ended]
    assert len(beats) >= 5, "heartbeats stopped"
    assert max(b - a for a, b in zip(beats, beats[1:])) < 1.2  # the interval is 0.5 s
    assert probe.max < 0.25, f"the event loop stalled for {probe.max:.2f} s"
    assert bot.fake.errors == []


async def test_cooldowns_answer_try_again_and_survive_a_restart(home_with_model, point_discord_at, mnist):
    fake = await FakeDiscord().start()
    point_discord_at(fake)
    try:
        first = await start_bot(fake, home_with_model)
        await first.app.settings.set(fake.guild_id, "cooldown_seconds", "120")
        ok = await fake.run_slash("bob", "digit", files={"image": ("a.png", mnist_png(mnist, 0), PNG)})
        assert "Digit reader" in (await fake.wait_for_reply(ok)).text
        again = await fake.run_slash("bob", "digit", files={"image": ("a.png", mnist_png(mnist, 0), PNG)})
        refused = await fake.wait_for_reply(again)
        assert refused.ephemeral and "try again in" in refused.content
        await stop_bot(first)

        second = await start_bot(fake, home_with_model)  # same database, new process state
        still = await fake.run_slash("bob", "digit", files={"image": ("a.png", mnist_png(mnist, 0), PNG)})
        assert "try again in" in (await fake.wait_for_reply(still)).content
        assert fake.command_syncs == 1  # the command set did not change: no second sync
        other = await fake.run_slash("alice", "digit", files={"image": ("a.png", mnist_png(mnist, 0), PNG)})
        assert "Digit reader" in (await fake.wait_for_reply(other)).text
        await stop_bot(second)
    finally:
        await fake.stop()


async def test_config_needs_manage_server(bot):
    denied = await bot.fake.run_slash("bob", "config", {"seconds": 10}, subcommand="cooldown")
    assert "needs the Manage Server permission" in (await bot.fake.wait_for_reply(denied)).content
    allowed = await bot.fake.run_slash("alice", "config", {"seconds": 10}, subcommand="cooldown")
    reply = await bot.fake.wait_for_reply(allowed)
    assert reply.ephemeral and "wait 10 s" in reply.text
    shown = await bot.fake.run_slash("alice", "config", subcommand="show")
    assert "10 s" in (await bot.fake.wait_for_reply(shown)).text
    in_dm = await bot.fake.run_slash("alice", "config", {"prefix": "?"}, subcommand="prefix", dm=True)
    assert "use it in a server" in (await bot.fake.wait_for_reply(in_dm)).content


async def test_without_message_content_the_bot_runs_slash_only(home_with_model, point_discord_at, mnist, caplog):
    fake = await FakeDiscord(grant_message_content=False).start()
    point_discord_at(fake)
    try:
        with caplog.at_level(logging.WARNING):
            running = await start_bot(fake, home_with_model)
        assert "Message Content" in caplog.text
        record = await fake.run_slash("alice", "help")
        assert "/digit" in (await fake.wait_for_reply(record)).text
        await fake.user_says("bob", "!help")  # content arrives blank: nothing to answer
        await fake.user_says("bob", f"<@{fake.app_id}> help", mention_bot=True)
        reply = await fake.wait_for_channel_message()
        assert "/digit" in reply.text
        assert len(fake.channel_messages) == 1
        await stop_bot(running)
    finally:
        await fake.stop()


async def test_guild_ids_sync_to_those_servers(home_with_model, point_discord_at):
    fake = await FakeDiscord().start()
    point_discord_at(fake)
    try:
        running = await start_bot(fake, home_with_model, guild_ids=[int(fake.guild_id)])
        assert {c["name"] for c in fake.guild_commands[fake.guild_id]} >= {"digit", "config"}
        assert fake.global_commands == []
        record = await fake.run_slash("alice", "about", guild_command=True)
        assert "mlbot" in (await fake.wait_for_reply(record)).text
        await stop_bot(running)
    finally:
        await fake.stop()


async def test_shutdown_answers_work_in_flight(bot, mnist):
    record = await bot.fake.run_slash("alice", "digit", files={"image": ("a.png", digits_png(mnist, [1, 2]), PNG)})
    await asyncio.sleep(0.01)
    assert await stop_bot(bot) == 0
    assert record.replied.is_set()
    assert bot.app.db._conn is None  # the database was closed after the work finished


def test_mlbot_run_as_a_process_against_the_fake(home_with_model, mnist, tmp_path):
    """As the checker does: `mlbot run` with only the endpoint variables and the token."""

    async def scenario() -> tuple[str, str]:
        fake = await FakeDiscord().start()
        env = {**os.environ, "MLBOT_HOME": str(home_with_model.root), "DISCORD_TOKEN": fake.token,
               "MLBOT_DISCORD_API_BASE": fake.api_base, "MLBOT_DISCORD_GATEWAY_URL": fake.gateway_url,
               "MLBOT_TORCH_THREADS": "1"}
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.adapters.cli", "run", env=env,
                                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            await asyncio.wait_for(fake.ready.wait(), 60)
            while not fake.global_commands:
                await asyncio.sleep(0.05)
            record = await fake.run_slash("alice", "digit", files={"image": ("a.png", mnist_png(mnist, 0), PNG)})
            reply = await fake.wait_for_reply(record, timeout=60)
            process.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode == 0, err.decode()
            return reply.text, (home_with_model.root / "logs" / "mlbot.log").read_text() + err.decode()
        finally:
            if process.returncode is None:
                process.kill()
            await fake.stop()

    text, logs = asyncio.run(scenario())
    assert "Digit reader" in text
    assert "fake-token.for-tests.only" not in logs
    assert "gateway connected" in logs and "synced" in logs


async def test_an_oversized_attachment_is_refused_before_download(bot):
    big = b"\x89PNG" + bytes(11 * 1024 * 1024)
    record = await bot.fake.run_slash("alice", "digit", files={"image": ("huge.png", big, PNG)})
    reply = await bot.fake.wait_for_reply(record)
    assert reply.ephemeral and "MiB" in reply.content
    assert bot.fake.attachment_downloads == []  # the size in the payload was enough to refuse it


async def test_check_tone_context_menu_answers_only_the_asker(home_with_model, tiny_tone_root, point_discord_at):
    import shutil

    shutil.copytree(tiny_tone_root / "models" / "tone", home_with_model.root / "models" / "tone")
    fake = await FakeDiscord().start()
    point_discord_at(fake)
    try:
        running = await start_bot(fake, home_with_model)
        assert any(c["name"] == "Check tone" and c["type"] == 3 for c in fake.global_commands)
        said = await fake.user_says("bob", "Thanks for finally replying, I guess.")
        record = await fake.run_context_menu("alice", "Check tone", said)
        reply = await fake.wait_for_reply(record)
        assert reply.ephemeral and "Tone check" in reply.text and "passive aggression" in reply.text
        assert fake.channel_messages == []  # nothing was posted in the channel
        await stop_bot(running)
    finally:
        await fake.stop()


async def test_tone_watch_is_off_by_default_and_needs_manage_server(home_with_model, tiny_tone_root,
                                                                    point_discord_at):
    import shutil
    import sqlite3

    shutil.copytree(tiny_tone_root / "models" / "tone", home_with_model.root / "models" / "tone")
    fake = await FakeDiscord().start()
    point_discord_at(fake)
    try:
        running = await start_bot(fake, home_with_model)
        text = "Wow, thanks for finally showing up. Some of us have been here since nine."
        await fake.user_says("bob", text)
        await asyncio.sleep(0.5)
        assert fake.reactions == []  # nobody turned the watch on

        denied = await fake.run_slash("bob", "config", {"state": "on"}, subcommand="tone-watch")
        assert "Manage Server" in (await fake.wait_for_reply(denied)).content
        allowed = await fake.run_slash("alice", "config", {"state": "on", "threshold": 50}, subcommand="tone-watch")
        assert "Tone watch is on" in (await fake.wait_for_reply(allowed)).text
        # The tiny test model is unsure of everything: lower the bar so this message is flagged.
        await running.app.settings.set_extra(fake.guild_id, f"tone_watch:{fake.channel_id}", "1")
        said = await fake.user_says("bob", text)
        for _ in range(100):
            if fake.reactions:
                break
            await asyncio.sleep(0.05)
        assert fake.reactions == [(fake.channel_id, said["id"], "\N{GRIMACING FACE}")]
        await stop_bot(running)

        database = sqlite3.connect(home_with_model.db_path)
        rows = database.execute("SELECT message_hash, channel_hash, score, flagged FROM tone_watch_log").fetchall()
        dump = "\n".join(database.iterdump())
        database.close()
        assert len(rows) == 1 and rows[0][3] == 1 and 0 <= rows[0][2] <= 1
        assert "showing up" not in dump and "Some of us" not in dump  # no message text anywhere
    finally:
        await fake.stop()

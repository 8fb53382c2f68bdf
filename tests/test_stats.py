"""/stats end to end: what the bot stored about its commands, for admins, across restarts."""
from __future__ import annotations

import asyncio

from bot.app import App
from bot.commands import CommandContext, run_command
from tests.conftest import mnist_png
from tests.fake_discord import FakeDiscord
from tests.test_discord_e2e import PNG, start_bot, stop_bot


async def test_stats_counts_commands_cache_hits_latency_and_busy_answers(home_with_model, point_discord_at, mnist):
    fake = await FakeDiscord().start()
    point_discord_at(fake)
    try:
        running = await start_bot(fake, home_with_model)
        same = mnist_png(mnist, 0)
        for user in ("bob", "alice"):  # the second read of the same image is served from the cache
            record = await fake.run_slash(user, "digit", files={"image": ("a.png", same, PNG)})
            assert "Digit reader" in (await fake.wait_for_reply(record)).text
        # No room to wait: of three reads at once, the ones that find the worker taken are "busy".
        running.app.runtime("digits").queue_limit = 0
        records = await asyncio.gather(*(fake.run_slash("bob", "digit", files={"image": (f"{i}.png", mnist_png(mnist, i),
                                                                                          PNG)})
                                         for i in range(1, 4)))
        answers = [(await fake.wait_for_reply(r)).text for r in records]
        busy = sum("busy, try again in" in a for a in answers)
        assert busy >= 1 and busy + sum("Digit reader" in a for a in answers) == 3

        denied = await fake.wait_for_reply(await fake.run_slash("bob", "stats"))
        assert denied.content == "/stats needs the Manage Server permission"
        shown = await fake.wait_for_reply(await fake.run_slash("alice", "stats"))
        assert shown.ephemeral and "Stats, last 24 h" in shown.text
        line = next(text for text in shown.text.splitlines() if text.startswith("/digit"))
        answered = 5 - busy  # a busy answer never reached the cache
        assert line.startswith(f"/digit: 5 commands, cache hits {1 / answered:.0%} of {answered}, median ") \
            and line.endswith(f" s, busy {busy}"), line
        await stop_bot(running)
    finally:
        await fake.stop()

    # The rows outlive the process; the operator's console sees every server.
    async with App(home_with_model) as app:
        reply = await run_command("stats", CommandContext(app, "console", "local"))
        assert not reply.is_error and reply.data["scope"] == "every server and DM"
        digit = reply.data["services"]["digit"]
        assert digit["commands"] == 5 and digit["cache_hits"] == 1 and digit["busy"] == busy
        assert 0 < digit["median_seconds"] < 30


async def test_stats_with_nothing_logged_says_so(app):
    reply = await run_command("stats", CommandContext(app, "console", "local"))
    assert reply.text == "No model commands in every server and DM in the last day."

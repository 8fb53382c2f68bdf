"""The daily track against the fake Discord: set it with /config, then restart the bot around
the scheduled time and count the posts."""
from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.reply import Reply, ReplyFile
from bot.services.tracks import TrackService
from tests.fake_discord import Channel, FakeDiscord
from tests.test_discord_e2e import start_bot, stop_bot

UTC = dt.timezone.utc


# The schedule is made with the real clock (it starts with the next 09:00 after it is made),
# so the bot's injected clock runs from tomorrow on.
TOMORROW = dt.datetime.now(UTC).date() + dt.timedelta(days=1)


def at(days: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(TOMORROW + dt.timedelta(days=days), dt.time(hour, minute), tzinfo=UTC)


class Clock:
    def __init__(self):
        self.when = at(0, 8)

    def __call__(self) -> dt.datetime:
        return self.when


@pytest.fixture
def composed(monkeypatch):
    """The post's content comes from the track service; the scheduler and Discord are under test
    here (tests/test_tracks_* cover composing)."""
    seeds = []

    async def daily_reply(self, seed: int, day: str) -> Reply:
        seeds.append(seed)
        return Reply(title=f"Track of the day, {day}", text="Composed by the GAN.",
                     files=[ReplyFile(f"track-{seed}.wav", b"RIFF" + bytes(64)), ReplyFile(f"track-{seed}.mid", b"MThd")])

    monkeypatch.setattr(TrackService, "daily_reply", daily_reply)
    return seeds


async def test_daily_post_survives_restarts_and_posts_once_a_day(home_with_model, point_discord_at, composed):
    clock = Clock()
    fake = await FakeDiscord(heartbeat_interval_ms=500).start()
    point_discord_at(fake)
    fake.add_user("admin", manage_guild=True)
    options = {"schedule_clock": clock, "schedule_interval": 0.05}
    try:
        bot = await start_bot(fake, home_with_model, **options)
        record = await fake.run_slash("admin", "config", {"time": "09:00", "timezone": "UTC",
                                                          "channel": Channel(fake.channel_id, "general")},
                                      subcommand="daily-track")
        await record.replied.wait()
        assert "Every day at 09:00 (UTC)" in record.replies[0].text
        refused = await fake.run_slash("admin", "config", {"time": "09:00",
                                                           "channel": Channel(fake.readonly_channel_id, "news")},
                                       subcommand="daily-track")
        await refused.replied.wait()
        assert "I cannot post in #news: give me Send Messages" in refused.replies[0].text
        # Typed commands are checked the same way, and a channel of no server of ours is refused.
        await fake.user_says("alice", f"!config daily-track 10:00 <#{fake.readonly_channel_id}>")
        typed = await fake.wait_for_channel_message(fake.channel_id)
        assert "give me Send Messages" in typed.text
        await fake.user_says("alice", "!config daily-track 10:00 <#123456789012345678>")
        await fake.wait_until(lambda: len(fake.channel_messages) >= 2, what="no answer to the unknown channel")
        assert "I cannot see that channel" in fake.channel_messages[1].text
        fake.channel_messages.clear()
        await asyncio.sleep(0.3)
        assert fake.channel_messages == []  # 08:00: not yet
        await stop_bot(bot)

        clock.when = at(0, 9, 30)  # the time passed while it was down
        bot = await start_bot(fake, home_with_model, **options)
        first = await fake.wait_for_channel_message(fake.channel_id, timeout=10)
        assert first.embeds[0]["title"] == f"Track of the day, {TOMORROW.isoformat()}"
        assert [name for name, _ in first.files] == [f"track-{composed[0]}.wav", f"track-{composed[0]}.mid"]
        await asyncio.sleep(0.3)
        await stop_bot(bot)

        bot = await start_bot(fake, home_with_model, **options)  # a restart the same day
        await asyncio.sleep(0.3)
        assert len(fake.channel_messages) == 1
        clock.when = at(1, 9)
        await fake.wait_for_channel_message(fake.channel_id, timeout=10, after=1)
        await asyncio.sleep(0.3)
        assert len(fake.channel_messages) == 2 and len(set(composed)) == 2  # a new seed each day
        await stop_bot(bot)
    finally:
        await fake.stop()

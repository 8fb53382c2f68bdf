"""The daily track scheduler, driven by an injected clock: due times in the server's time
zone, at most one post per server and day across restarts and crashes, catch-up on start."""
from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.commands import CommandContext, run_command
from bot.services.daily_track import COMPOSE_ATTEMPTS, ChannelUnavailable, DailyTrackScheduler, seed_for
from bot.reply import Reply
from ml.errors import ModelNotReady
from storage.daily_tracks import FAILED, POSTED, SENDING, SKIPPED, DailyTrackStore

PARIS = ZoneInfo("Europe/Paris")


class Clock:
    def __init__(self, when: dt.datetime):
        self.when = when

    def __call__(self) -> dt.datetime:
        return self.when

    def set(self, *args) -> None:
        self.when = dt.datetime(*args, tzinfo=PARIS)


class Channel:
    """Stands in for Discord: records posts, or fails as told."""

    def __init__(self):
        self.posts: list[tuple[str, str]] = []
        self.fail_with: Exception | None = None

    async def post(self, channel_id: str, reply: Reply) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.posts.append((channel_id, reply.title))
        return f"m{len(self.posts)}"


@pytest.fixture
async def daily(app_on_each_backend, monkeypatch):
    app = app_on_each_backend
    composed: list[int] = []

    async def daily_reply(seed: int, day: str) -> Reply:
        composed.append(seed)
        return Reply(title=f"Track of the day, {day}")

    monkeypatch.setattr(app.tracks, "daily_reply", daily_reply)
    store = DailyTrackStore(app.db)
    created = dt.datetime(2026, 3, 1, 12, 0, tzinfo=PARIS).timestamp()
    await store.set_schedule("g1", "c1", "09:00", "Europe/Paris", now=created)
    clock = Clock(dt.datetime(2026, 3, 2, 8, 59, tzinfo=PARIS))
    channel = Channel()
    return app, store, clock, channel, composed


def scheduler(app, clock, channel) -> DailyTrackScheduler:
    return DailyTrackScheduler(app, channel.post, clock=clock, interval=0.01)


async def test_posts_once_at_the_local_time_each_day(daily):
    app, store, clock, channel, _ = daily
    s = scheduler(app, clock, channel)
    assert await s.tick() == 0  # 08:59 in Paris
    clock.set(2026, 3, 2, 9, 0)
    assert await s.tick() == 1
    assert await s.tick() == 0
    clock.set(2026, 3, 2, 23, 59)
    assert await s.tick() == 0
    clock.set(2026, 3, 3, 9, 1)
    assert await s.tick() == 1
    assert channel.posts == [("c1", "Track of the day, 2026-03-02"), ("c1", "Track of the day, 2026-03-03")]
    post = await store.post("g1", "2026-03-02")
    assert post.state == POSTED and post.message_id == "m1" and post.seed == seed_for("g1", "2026-03-02")


async def test_time_zone_decides_the_day(daily):
    app, store, clock, channel, _ = daily
    clock.when = dt.datetime(2026, 3, 2, 7, 30, tzinfo=dt.timezone.utc)  # 08:30 in Paris: not yet
    s = scheduler(app, clock, channel)
    assert await s.tick() == 0
    clock.when = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc)  # 09:00 in Paris
    assert await s.tick() == 1


async def test_a_schedule_made_after_todays_time_starts_tomorrow(daily):
    app, store, clock, channel, _ = daily
    clock.set(2026, 3, 2, 15, 0)
    await store.set_schedule("g1", "c1", "09:00", "Europe/Paris", now=clock().timestamp())
    s = scheduler(app, clock, channel)
    assert await s.tick() == 0
    clock.set(2026, 3, 3, 9, 0)
    assert await s.tick() == 1


async def test_two_schedulers_at_once_post_once(daily):
    app, store, clock, channel, _ = daily
    clock.set(2026, 3, 2, 9, 5)
    results = await asyncio.gather(scheduler(app, clock, channel).tick(), scheduler(app, clock, channel).tick())
    assert sorted(results) == [0, 1] and len(channel.posts) == 1


async def test_crash_before_sending_is_retried_after_a_restart(daily):
    app, store, clock, channel, _ = daily
    clock.set(2026, 3, 2, 9, 5)
    await store.claim("g1", "2026-03-02", 1, "old-process", now=clock().timestamp())  # then it died
    assert await scheduler(app, clock, channel).tick() == 0  # a fresh process: the claim may be alive
    clock.set(2026, 3, 2, 9, 11)
    assert await scheduler(app, clock, channel).tick() == 1  # its lease ran out: nothing was sent
    assert len(channel.posts) == 1


async def test_crash_while_sending_is_never_posted_twice(daily):
    app, store, clock, channel, _ = daily
    clock.set(2026, 3, 2, 9, 5)
    channel.fail_with = ConnectionResetError("connection lost mid-request")  # did Discord get it? unknown
    assert await scheduler(app, clock, channel).tick() == 0
    assert (await store.post("g1", "2026-03-02")).state == SENDING
    channel.fail_with = None
    for _ in range(3):  # restarts and later ticks the same day
        assert await scheduler(app, clock, channel).tick() == 0
    assert channel.posts == []


async def test_a_channel_the_bot_cannot_post_in_fails_the_day_cleanly(daily):
    app, store, clock, channel, _ = daily
    clock.set(2026, 3, 2, 9, 5)
    channel.fail_with = ChannelUnavailable("I cannot post in #news: give me Send Messages there")
    assert await scheduler(app, clock, channel).tick() == 0
    post = await store.post("g1", "2026-03-02")
    assert post.state == FAILED and "Send Messages" in post.detail
    channel.fail_with = None
    assert await scheduler(app, clock, channel).tick() == 0  # not retried the same day
    clock.set(2026, 3, 3, 9, 5)
    assert await scheduler(app, clock, channel).tick() == 1


async def test_model_not_ready_keeps_the_claim_and_posts_later_that_day(daily, monkeypatch):
    app, store, clock, channel, composed = daily
    ready = False

    async def daily_reply(seed: int, day: str) -> Reply:
        if not ready:
            raise ModelNotReady("the track model is training (40%)")
        return Reply(title=f"Track of the day, {day}")

    monkeypatch.setattr(app.tracks, "daily_reply", daily_reply)
    clock.set(2026, 3, 2, 9, 5)
    s = scheduler(app, clock, channel)
    assert await s.tick() == 0
    ready = True
    clock.set(2026, 3, 2, 11, 0)
    assert await s.tick() == 1


async def test_composing_that_keeps_failing_gives_up_for_the_day(daily, monkeypatch):
    app, store, clock, channel, _ = daily
    calls = []

    async def daily_reply(seed: int, day: str) -> Reply:
        calls.append(day)
        raise RuntimeError("the synthesiser broke")

    monkeypatch.setattr(app.tracks, "daily_reply", daily_reply)
    clock.set(2026, 3, 2, 9, 5)
    s = scheduler(app, clock, channel)
    for _ in range(COMPOSE_ATTEMPTS + 3):
        assert await s.tick() == 0
    assert len(calls) == COMPOSE_ATTEMPTS  # then the day is given up, not retried every tick
    post = await store.post("g1", "2026-03-02")
    assert post.state == FAILED and channel.posts == []


async def test_start_up_posts_a_missed_post_the_same_day_and_skips_older_days(daily, caplog):
    app, store, clock, channel, _ = daily
    clock.set(2026, 3, 4, 10, 0)  # down since before 03-03 09:00; 03-04 09:00 also passed while down
    s = scheduler(app, clock, channel)
    await s.catch_up()
    assert await s.tick() == 1
    assert (await store.post("g1", "2026-03-03")).state == SKIPPED
    assert "skipped" in caplog.text
    assert channel.posts == [("c1", "Track of the day, 2026-03-04")]
    await s.catch_up()  # a second start-up the same day changes nothing
    assert await s.tick() == 0
    assert [p.day for p in await store.posts("g1")] == ["2026-03-03", "2026-03-04"]


async def test_run_loop_posts_and_stops(daily):
    app, store, clock, channel, _ = daily
    clock.set(2026, 3, 2, 9, 0)
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler(app, clock, channel).run(stop))
    for _ in range(200):
        if channel.posts:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert len(channel.posts) == 1


# ----- /config daily-track ----------------------------------------------------------------

def admin(app, **extra) -> CommandContext:
    return CommandContext(app, "discord", "u1", guild_id="g9", can_manage_server=True, channel_id="c9", **extra)


async def test_config_daily_track_sets_shows_and_stops(app):
    reply = await run_command("config daily-track", admin(app), time="7:05", timezone="America/New_York")
    assert not reply.is_error and "07:05 (America/New_York)" in reply.text and "<#c9>" in reply.text
    schedule = await DailyTrackStore(app.db).schedule("g9")
    assert (schedule.channel_id, schedule.post_time, schedule.timezone) == ("c9", "07:05", "America/New_York")
    shown = await run_command("config show", admin(app))
    assert dict(shown.fields)["daily track"] == "07:05 America/New_York in <#c9>"
    off = await run_command("config daily-track", admin(app), time="off")
    assert off.text == "The daily track is off." and await DailyTrackStore(app.db).schedule("g9") is None


@pytest.mark.parametrize("options, message", [
    ({"time": "25:00"}, "time must be HH:MM"),
    ({"time": "noon"}, "time must be HH:MM"),
    ({"time": "09:00", "timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ({"time": "09:00", "timezone": "../etc/passwd"}, "unknown time zone"),
])
async def test_config_daily_track_bad_input(app, options, message):
    reply = await run_command("config daily-track", admin(app), **options)
    assert reply.is_error and message in reply.text


async def test_config_daily_track_needs_manage_server_and_a_channel_the_bot_can_use(app):
    member = CommandContext(app, "discord", "u2", guild_id="g9", can_manage_server=False, channel_id="c9")
    denied = await run_command("config daily-track", member, time="09:00")
    assert denied.is_error and "Manage Server" in denied.text

    asked = []

    async def cannot_post(channel_id: str, guild_id: str | None) -> str | None:
        asked.append((channel_id, guild_id))
        return "I cannot post in #news: give me Attach Files there, or pick another channel"

    refused = await run_command("config daily-track", admin(app, channel_problem=cannot_post), time="09:00",
                                channel="123")
    assert refused.is_error and "give me Attach Files" in refused.text
    assert asked == [("123", "g9")]  # the channel must be one of this server's
    assert await DailyTrackStore(app.db).schedule("g9") is None

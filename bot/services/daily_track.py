"""The daily track: one GAN-composed clip a day in a server's chosen channel.

`tick()` looks at every schedule and posts what is due; the loop calls it every half minute
and tests call it with an injected clock. Each post is claimed in SQLite before any work and
completed after (storage/daily_tracks.py), so a server gets at most one post per local day
across restarts and crashes. On start-up, `catch_up()` posts today's track if its time has
passed while the bot was down, and records (and logs) a skipped day before that.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import uuid
from typing import TYPE_CHECKING, Awaitable, Callable
from zoneinfo import ZoneInfo

from bot.reply import Reply
from bot.shards import ShardPlan
from ml.errors import ModelNotReady
from storage.daily_tracks import FAILED, POSTED, SENDING, SKIPPED, DailyTrackStore, Schedule

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
Poster = Callable[[str, Reply], Awaitable[str]]  # (channel id, reply) -> message id


COMPOSE_ATTEMPTS = 3  # compositions that fail in one day before the day is marked failed


class ChannelUnavailable(Exception):
    """The channel is gone or the bot may not post there: retrying will not help today."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def seed_for(guild_id: str, day: str) -> int:
    """The day's seed: the same server and day always get the same track."""
    return int.from_bytes(hashlib.sha256(f"{guild_id}:{day}".encode()).digest()[:4], "big") % 2**31


def _local_post_time(schedule: Schedule, day: dt.date) -> dt.datetime:
    hour, minute = map(int, schedule.post_time.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(schedule.timezone))


class DailyTrackScheduler:
    def __init__(self, app: "App", poster: Poster, clock: Clock = utc_now, interval: float = 30.0,
                 shards: ShardPlan | None = None):
        self.app = app
        self.shards = shards  # with shards, only the servers on them are this process's to post
        self.store = DailyTrackStore(app.db)
        self.poster = poster
        self.clock = clock
        self.interval = interval
        self.owner = uuid.uuid4().hex  # this process's claims (without shards)
        self._compose_failures: dict[tuple[str, str], int] = {}  # (server, day) -> failed compositions

    async def _schedules(self) -> list[Schedule]:
        schedules = await self.store.schedules()
        return [s for s in schedules if self.shards is None or self.shards.owns(s.guild_id)]

    def _claim_owner(self, guild_id: str) -> str:
        return self.shards.claim_owner(guild_id) if self.shards else self.owner

    def _due_day(self, schedule: Schedule, now: dt.datetime) -> str | None:
        """Today's local date if today's post time has passed (and the schedule existed then)."""
        local = now.astimezone(ZoneInfo(schedule.timezone))
        post_at = _local_post_time(schedule, local.date())
        if local >= post_at and schedule.created_at <= post_at.timestamp():
            return local.date().isoformat()
        return None

    async def catch_up(self) -> None:
        """Record the previous local day as skipped if its post never happened (bot was down)."""
        now = self.clock()
        for schedule in await self._schedules():
            local = now.astimezone(ZoneInfo(schedule.timezone))
            yesterday = local.date() - dt.timedelta(days=1)
            post_at = _local_post_time(schedule, yesterday)
            if schedule.created_at <= post_at.timestamp() and await self.store.post(schedule.guild_id,
                                                                                    yesterday.isoformat()) is None:
                await self.store.mark(schedule.guild_id, yesterday.isoformat(), SKIPPED,
                                      detail="the bot was not running that day", now=now.timestamp(),
                                      seed=seed_for(schedule.guild_id, yesterday.isoformat()))
                log.warning("daily track for a server on %s was skipped: the bot was not running", yesterday)

    async def tick(self) -> int:
        """Post every due track; returns how many were posted."""
        now = self.clock()
        posted = 0
        for schedule in await self._schedules():
            day = self._due_day(schedule, now)
            if day is not None:
                posted += await self._post(schedule, day, now)
        return posted

    async def _post(self, schedule: Schedule, day: str, now: dt.datetime) -> int:
        seed = seed_for(schedule.guild_id, day)
        if not await self.store.claim(schedule.guild_id, day, seed, self._claim_owner(schedule.guild_id),
                                      now=now.timestamp()):
            return 0  # posted, being posted, failed or skipped: never twice
        try:
            reply = await self.app.tracks.daily_reply(seed, day)
        except ModelNotReady:
            return 0  # the claim stays open: the next tick tries again, the same day
        except Exception as exc:
            # A passing fault gets retried; one that repeats would otherwise cost a full
            # composition every tick for the rest of the day.
            key = (schedule.guild_id, day)
            self._compose_failures[key] = failures = self._compose_failures.get(key, 0) + 1
            if failures < COMPOSE_ATTEMPTS:
                log.warning("daily track: composing failed (try %d of %d); will retry", failures,
                            COMPOSE_ATTEMPTS, exc_info=True)
                return 0
            log.exception("daily track: composing failed %d times; giving up for %s", failures, day)
            del self._compose_failures[key]  # the day is marked FAILED: never tried again
            await self.store.mark(schedule.guild_id, day, FAILED, detail=f"composing failed: {exc}"[:300],
                                  now=now.timestamp())
            return 0
        self._compose_failures.pop((schedule.guild_id, day), None)
        await self.store.mark(schedule.guild_id, day, SENDING, now=now.timestamp())
        try:
            message_id = await self.poster(schedule.channel_id, reply)
        except ChannelUnavailable as exc:
            await self.store.mark(schedule.guild_id, day, FAILED, detail=str(exc), now=now.timestamp())
            log.warning("daily track not posted: %s", exc)
            return 0
        except Exception:
            # The post stays "sending": Discord may have it, so it is never sent again.
            log.exception("daily track: sending failed with an unknown outcome; not retried")
            return 0
        await self.store.mark(schedule.guild_id, day, POSTED, message_id=message_id,
                              now=self.clock().timestamp())
        log.info("daily track posted for %s (seed %d)", day, seed)
        return 1

    async def run(self, stop: asyncio.Event) -> None:
        await self.catch_up()
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # one bad tick must not end the schedule
                log.exception("daily track: tick failed")
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except asyncio.TimeoutError:
                pass

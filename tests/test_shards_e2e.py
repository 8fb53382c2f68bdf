"""The gateway as shards: one process holding every shard, and `mlbot cluster` running two
`mlbot run` processes on PostgreSQL against the fake Discord with four servers."""
from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import signal
import sys
import time

from bot.adapters.discord_bot import fetch_gateway_bot
from bot.shards import ShardPlan, shard_of
from tests.conftest import install_models, mnist_png
from tests.fake_discord import FakeDiscord
from tests.test_discord_e2e import start_bot, stop_bot


async def test_one_process_holds_every_shard_the_gateway_recommends(home_with_model, point_discord_at):
    fake = await FakeDiscord(heartbeat_interval_ms=500, shards=2, identify_window=5.0).start()
    point_discord_at(fake)
    other, other_channel = fake.add_guild(shard=1 - shard_of(fake.guild_id, 2), shard_count=2)
    try:
        count, concurrency = await fetch_gateway_bot(fake.token)  # what --shard-count auto asks
        assert (count, concurrency) == (2, 1)
        bot = await start_bot(fake, home_with_model, shards=ShardPlan(count, (0, 1), concurrency))
        await fake.wait_until(lambda: len(fake.shard_sessions) == 2, what="both shards identified")
        for guild_id in (fake.guild_id, other):
            record = await fake.run_slash("alice", "status", guild_id=guild_id)
            reply = await fake.wait_for_reply(record)
            assert f"this server is on shard {shard_of(guild_id, 2)}" in reply.text and "shards 0,1 of 2" in reply.text
        assert fake.errors == []  # discord.py spaced its own two identifies 5 s apart
        await stop_bot(bot)
    finally:
        await fake.stop()


def schedule_rows(guilds: dict[str, str]) -> str:
    """Daily tracks due at 00:00 UTC today, made yesterday: due the moment the bot starts."""
    made = dt.datetime.combine(dt.date.today() - dt.timedelta(days=1), dt.time(12), tzinfo=dt.timezone.utc)
    values = ", ".join(f"('{g}', '{c}', '00:00', 'UTC', {made.timestamp()})" for g, c in guilds.items())
    return f"INSERT INTO daily_track_schedules (guild_id, channel_id, post_time, timezone, created_at) VALUES {values}"


class ClusterUnderTest:
    """`mlbot cluster` as a subprocess; remembers which pid holds which shard from its stderr."""

    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process
        self.pid_of_shard: dict[int, int] = {}
        self.lines: list[str] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            found = re.search(r"process \d+ \(pid (\d+)\) holds shards ([\d,]+) of", line)
            if found:
                for shard in found.group(2).split(","):
                    self.pid_of_shard[int(shard)] = int(found.group(1))


async def test_a_cluster_of_two_splits_four_servers_posts_once_each_and_shares_cooldowns(
        home_with_model, tiny_tracks_root, postgres, mnist):
    home = install_models(home_with_model, tiny_tracks_root)
    # Identify turns 2 s apart (Discord's are 5 s): the same rule, shared by both processes, sooner.
    fake = await FakeDiscord(heartbeat_interval_ms=1000, shards=2, identify_window=2.0).start()
    first_shard = shard_of(fake.guild_id, 2)
    guilds = {fake.guild_id: fake.channel_id}
    for shard in (first_shard, 1 - first_shard, 1 - first_shard):
        guild_id, channel_id = fake.add_guild(shard=shard, shard_count=2)
        guilds[guild_id] = channel_id
    url = postgres.new_database()
    from storage import open_database
    async with open_database(url):  # migrate, so the schedules can go in first
        pass
    postgres.psql(url, schedule_rows(guilds))
    postgres.psql(url, "INSERT INTO guild_settings (guild_id, key, value) VALUES "
                  + ", ".join(f"('{g}', 'cooldown_seconds', '300')" for g in guilds))
    env = {**os.environ, "MLBOT_HOME": str(home.root), "MLBOT_DATABASE_URL": url, "DISCORD_TOKEN": fake.token,
           "MLBOT_DISCORD_API_BASE": fake.api_base, "MLBOT_DISCORD_GATEWAY_URL": fake.gateway_url,
           "MLBOT_BACKGROUND_TRAINING": "0", "MLBOT_IDENTIFY_SPACING": "2"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.adapters.cli", "cluster", "--processes", "2", "--shard-count", "auto",
        env=env, stderr=asyncio.subprocess.PIPE)
    cluster = ClusterUnderTest(process)
    try:
        # Kill -9 the process of the second shard the moment one of its servers' posts is claimed.
        victim_shard = 1 - first_shard
        victims = [g for g in guilds if shard_of(g, 2) == victim_shard]
        deadline = time.monotonic() + 120
        while True:
            assert time.monotonic() < deadline, "no daily post was claimed\n" + "\n".join(cluster.lines)
            states = postgres.psql(url, "SELECT guild_id || ':' || state FROM daily_track_posts")
            if any(line.split(":")[0] in victims for line in states.splitlines()):
                break
            await asyncio.sleep(0.05)
        killed = cluster.pid_of_shard[victim_shard]
        os.kill(killed, signal.SIGKILL)
        print("killed with the posts at", states.replace("\n", " "))  # -s shows where it landed

        def posted_everywhere() -> bool:
            return all(fake.bot_messages_in(channel) for channel in guilds.values())
        await fake.wait_until(posted_everywhere, timeout=150, what="a daily track in every server")
        await fake.wait_until(lambda: cluster.pid_of_shard[victim_shard] != killed, timeout=30,
                              what="the cluster restarting the killed process")
        await asyncio.sleep(2)  # room for a second post, were there going to be one
        for channel in guilds.values():
            assert len(fake.bot_messages_in(channel)) == 1
        assert postgres.psql(url, "SELECT string_agg(DISTINCT state, ',') FROM daily_track_posts") == "posted"

        # Each server's command is answered once, by the process holding its shard.
        await fake.wait_until(lambda: len(fake.shard_sessions) == 2 and all(
            s.ws is not None and not s.ws.closed for s in fake.shard_sessions.values()), timeout=60,
            what="both shards connected")
        for guild_id in guilds:
            shard = shard_of(guild_id, 2)
            record = await fake.run_slash("alice", "status", guild_id=guild_id)
            reply = await fake.wait_for_reply(record, timeout=60)
            assert f"process {cluster.pid_of_shard[shard]} holds shard {shard} of 2" in reply.text
            assert f"this server is on shard {shard}" in reply.text
        await asyncio.sleep(1)
        assert all(len(r.replies) == 1 for r in fake.interactions.values())

        # A cooldown taken through one process holds in the other.
        digit = ("seven.png", mnist_png(mnist, 0), "image/png")
        on_first = next(g for g in guilds if shard_of(g, 2) == first_shard)
        used = await fake.run_slash("bob", "digit", files={"image": digit}, guild_id=on_first)
        assert "cooling down" not in (await fake.wait_for_reply(used, timeout=60)).text
        refused = await fake.run_slash("bob", "digit", files={"image": digit}, guild_id=victims[0])
        assert "/digit is cooling down" in (await fake.wait_for_reply(refused, timeout=60)).text
        assert fake.errors == [], fake.errors
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                code = await asyncio.wait_for(process.wait(), 60)
            except asyncio.TimeoutError:
                process.kill()
                code = None
        cluster.reader.cancel()
        await fake.stop()
    assert code == 0, "\n".join(cluster.lines)

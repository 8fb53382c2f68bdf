"""Load through the real discord.py client and the fake Discord server -> JSON.

N concurrent /digit interactions (the digit service holds 1 running + 64 queued; the
rest are answered "busy, try again in N s"), first with images the cache has not seen (misses), then
the same images again (hits): acknowledgement latency p50/p99, answers per second,
event-loop lag p99 and peak RSS. The fake server runs on the same loop as the bot, so the
figures include its own work: they are a lower bound on what the bot alone would do.

    python bench/discord_load.py [--requests 100]     (needs a digit model in MLBOT_HOME)
"""
from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import discord  # noqa: E402
import yarl  # noqa: E402

from bench.digits import machine  # noqa: E402
from bot.app import App  # noqa: E402
from bot.adapters.discord_bot import DiscordRunner  # noqa: E402
from ml.digits.data import load_mnist  # noqa: E402
from ml.digits.synthetic import render_photo  # noqa: E402
from ml.home import ModelHome  # noqa: E402
from ml.runtime import LoopLagProbe  # noqa: E402
from tests.fake_discord import FakeDiscord  # noqa: E402


def ms(values, q) -> float:
    return round(float(np.percentile(values, q)) * 1000, 1)


async def wave(fake: FakeDiscord, photos: list[bytes]) -> dict:
    async with LoopLagProbe() as probe:
        started = time.monotonic()
        records = await asyncio.gather(*(
            fake.run_slash(("alice", "bob")[i % 2], "digit", files={"image": (f"{i}.jpg", p, "image/jpeg")})
            for i, p in enumerate(photos)))
        replies = await asyncio.gather(*(fake.wait_for_reply(r, timeout=300) for r in records))
        elapsed = time.monotonic() - started
    acks = [r.ack_latency for r in records]
    return {
        "requests": len(photos),
        "answered_with_a_reading": sum("Digit reader" in r.text for r in replies),
        "answered_busy_try_again": sum("busy, try again" in r.text for r in replies),
        "ack_ms": {"p50": ms(acks, 50), "p99": ms(acks, 99), "max": round(max(acks) * 1000, 1)},
        "answers_per_second": round(len(replies) / elapsed, 1),
        "loop_lag_ms": {"p99": round(probe.percentile(99) * 1000, 1), "max": round(probe.max * 1000, 1)},
    }


async def main_async(requests: int) -> dict:
    source = ModelHome().current("digits")
    if source is None:
        sys.exit("no digit model in MLBOT_HOME; run `mlbot train digits` first")
    home = ModelHome(Path(tempfile.mkdtemp(prefix="mlbot-load-")))
    shutil.copytree(source.path.parent, home.service_dir("digits"))

    fake = await FakeDiscord(heartbeat_interval_ms=1000).start()
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    app = App(home)
    await app.start()
    await app.settings.set(fake.guild_id, "cooldown_seconds", "0")
    await app.settings.set(fake.guild_id, "server_per_minute", "100000")
    runner = DiscordRunner(app, fake.token, guild_ids=[], guild_ready_timeout=0.05)
    task = asyncio.create_task(runner.run())
    while not (runner.client and runner.client.is_ready()):
        await asyncio.sleep(0.05)

    data = load_mnist()
    rng = np.random.default_rng(0)
    photos = [render_photo([data.test_images[i]], rng) for i in range(requests)]
    result = {"benchmark": "discord_load", "machine": machine(), "model_version": source.version}
    result["cache_misses"] = await wave(fake, photos)
    result["cache_hits"] = await wave(fake, photos)
    result["rule_violations"] = len(fake.errors)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    runner.request_stop()
    await task
    await fake.stop()
    shutil.rmtree(home.root, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "discord_load.json"))
    args = parser.parse_args()
    result = asyncio.run(main_async(args.requests))
    text = json.dumps(result, indent=2)
    Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

"""The gateway under load with each inference backend, with and without a training running -> JSON.

For local (models in the bot process) and ray (a local Ray with the Serve application deployed
from deploy/serve.yaml), each alone and while the bot's background trainer builds the tone
model in its child process: 200 concurrent /digit interactions (photo-like renderings the
cache has not seen) through the real discord.py client and the fake Discord. Measured:
acknowledgement p99, answers per second, event-loop lag p99, the longest gap between gateway
heartbeats (sent every second), and peak RSS of the bot process. Each is run twice: the bot
in this process, sharing its event loop with the fake Discord (loop lag measurable), and the
bot as its own `mlbot run` process (the fake alone here, as Discord would be).

    python bench/scale.py [--requests 200] [--out bench/results/scale.json]   (needs a digit model)
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
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
from bot.adapters.discord_bot import DiscordRunner  # noqa: E402
from bot.app import App  # noqa: E402
from ml.digits.data import load_mnist  # noqa: E402
from ml.digits.synthetic import render_photo  # noqa: E402
from ml.home import ModelHome  # noqa: E402
from ml.runtime import LoopLagProbe  # noqa: E402
from ml.services import SERVICES  # noqa: E402
from tests.fake_discord import FakeDiscord  # noqa: E402


def ms(values, q) -> float:
    return round(float(np.percentile(values, q)) * 1000, 1)


async def wave(fake: FakeDiscord, photos: list[bytes]) -> dict:
    """All the /digit interactions at once; the figures the fake saw."""
    started = time.monotonic()
    records = await asyncio.gather(*(
        fake.run_slash(("alice", "bob")[i % 2], "digit", files={"image": (f"{i}.jpg", p, "image/jpeg")})
        for i, p in enumerate(photos)))
    replies = await asyncio.gather(*(fake.wait_for_reply(r, timeout=600) for r in records))
    elapsed = time.monotonic() - started
    await asyncio.sleep(3)  # heartbeats after the wave too
    beats = [t for t in fake.heartbeats if t >= started]
    gaps = [b - a for a, b in zip(beats, beats[1:])]
    acks = [r.ack_latency for r in records]
    return {
        "requests": len(photos),
        "answered_with_a_reading": sum("Digit reader" in r.text for r in replies),
        "answered_busy_try_again": sum("busy, try again" in r.text for r in replies),
        "ack_p99_ms": ms(acks, 99), "ack_max_ms": round(max(acks) * 1000, 1),
        "answers_per_second": round(len(replies) / elapsed, 1),
        "heartbeat_gap_max_s": round(max(gaps), 2) if gaps else None,
        "rule_violations": len(fake.errors),
    }


async def one_run(source: ModelHome, photos: list[bytes], training: bool, ray_address: str | None) -> dict:
    home = ModelHome(Path(tempfile.mkdtemp(prefix="mlbot-scale-")))
    shutil.copytree(source.current("digits").path.parent, home.service_dir("digits"))
    if ray_address:
        os.environ["MLBOT_RAY_ADDRESS"] = ray_address
    else:
        os.environ.pop("MLBOT_RAY_ADDRESS", None)
    fake = await FakeDiscord(heartbeat_interval_ms=1000).start()
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    app = App(home, background_training=training)
    app.trainer.specs = [SERVICES["tone"]]  # a real, full training (minutes), in the trainer's child
    await app.start()
    await app.settings.set(fake.guild_id, "cooldown_seconds", "0")
    await app.settings.set(fake.guild_id, "server_per_minute", "100000")
    runner = DiscordRunner(app, fake.token, guild_ids=[], guild_ready_timeout=0.05)
    task = asyncio.create_task(runner.run())
    while not (runner.client and runner.client.is_ready()):
        await asyncio.sleep(0.05)
    if training:
        while "tone" not in app.trainer.building:
            await asyncio.sleep(0.1)
        await asyncio.sleep(15)  # into the training proper (torch loaded, batches running)
    async with LoopLagProbe() as probe:
        figures = await wave(fake, photos)
    result = {"backend": app.inference.name, "training": training, "bot": "with the fake, one loop", **figures,
              "loop_lag_p99_ms": round(probe.percentile(99) * 1000, 1)}
    runner.request_stop()
    await task
    await fake.stop()
    shutil.rmtree(home.root, ignore_errors=True)
    return result


async def one_run_bot_process(source: ModelHome, photos: list[bytes], training: bool,
                              ray_address: str | None) -> dict:
    """The same wave with the bot as its own `mlbot run` process: the fake Discord alone on this
    process's loop, as Discord would be. (No loop-lag probe inside the bot here.)"""
    import subprocess

    from storage import open_database
    from storage.settings import GuildSettings
    from bot.commands.config import SETTING_DEFAULTS

    home = ModelHome(Path(tempfile.mkdtemp(prefix="mlbot-scale-")))
    shutil.copytree(source.current("digits").path.parent, home.service_dir("digits"))
    fake = await FakeDiscord(heartbeat_interval_ms=1000).start()
    async with open_database(sqlite_path=home.db_path) as db:
        settings = GuildSettings(db, SETTING_DEFAULTS)
        await settings.set(fake.guild_id, "cooldown_seconds", "0")
        await settings.set(fake.guild_id, "server_per_minute", "100000")
    if training:  # only tone is missing from this home besides those below: it is what trains
        for service in ("friend", "essay", "tracks"):
            if source.current(service) is not None:
                shutil.copytree(source.current(service).path.parent, home.service_dir(service), dirs_exist_ok=True)
    env = {**os.environ, "MLBOT_HOME": str(home.root), "DISCORD_TOKEN": fake.token,
           "MLBOT_DISCORD_API_BASE": fake.api_base, "MLBOT_DISCORD_GATEWAY_URL": fake.gateway_url,
           "MLBOT_BACKGROUND_TRAINING": "1" if training else "0", "MLBOT_RAY_ADDRESS": ray_address or ""}
    bot = subprocess.Popen([sys.executable, "-m", "bot.adapters.cli", "run"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await fake.wait_until(lambda: fake.ready.is_set(), timeout=120, what="the bot to connect")
        if training:
            status = home.service_dir("tone") / ".build.json"
            await fake.wait_until(lambda: status.exists(), timeout=120, what="the tone training to start")
            await asyncio.sleep(15)
        figures = await wave(fake, photos)
    finally:
        bot.terminate()
        try:
            bot.wait(60)
        except subprocess.TimeoutExpired:
            bot.kill()
        await fake.stop()
        shutil.rmtree(home.root, ignore_errors=True)
    return {"backend": "ray" if ray_address else "local", "training": training, "bot": "own process", **figures,
            "loop_lag_p99_ms": None}


def start_ray_with_digits(source: ModelHome) -> str:
    from bot.inference.deploy import deploy, load_config
    from bot.inference.ray_auth import use_ray_token_if_present

    use_ray_token_if_present()
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20,
             namespace="mlbot", log_to_driver=False, configure_logging=False)
    config = load_config()
    deploy(source, {"digits": config["digits"]})
    return ray.get_runtime_context().gcs_address


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "scale.json"))
    args = parser.parse_args()
    source = ModelHome()
    if source.current("digits") is None:
        sys.exit("no digit model in MLBOT_HOME; run `mlbot train digits` first")
    data = load_mnist()
    rng = np.random.default_rng(0)
    runs = []
    for backend in ("local", "ray"):
        address = start_ray_with_digits(source) if backend == "ray" else None
        for training in (False, True):
            photos = [render_photo([data.test_images[(i + 1000 * len(runs)) % 10000]], rng)
                      for i in range(args.requests)]  # new images every run: cache misses
            runs.append(asyncio.run(one_run(source, photos, training, address)))
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
            runs.append(asyncio.run(one_run_bot_process(source, photos, training, address)))
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    result = {"benchmark": "scale", "machine": machine(),
              "peak_rss_mib_bot_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "runs": runs}
    text = json.dumps(result, indent=2)
    Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

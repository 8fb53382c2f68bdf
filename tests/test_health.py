"""/healthz and /metrics of a gateway process (MLBOT_METRICS_PORT)."""
from __future__ import annotations

import aiohttp

from tests.conftest import mnist_png
from tests.fake_discord import FakeDiscord
from tests.test_discord_e2e import start_bot, stop_bot


async def get(port: int, path: str) -> tuple[int, str, dict | None]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}{path}") as response:
            text = await response.text()
            body = await response.json(content_type=None) if path == "/healthz" else None
            return response.status, text, body


def sample(metrics: str, name: str) -> float:
    """A sample's value in Prometheus text (0 when absent): counters are per process, so
    tests compare before and after."""
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_healthz_and_metrics_follow_the_process(home_with_model, point_discord_at, mnist):
    fake = await FakeDiscord(heartbeat_interval_ms=300).start()
    point_discord_at(fake)
    bot = await start_bot(fake, home_with_model, health_port=0)
    port = bot.runner.health.port
    try:
        status, _, body = await get(port, "/healthz")
        assert status == 200 and body["ok"] and body["database"]["detail"] == "sqlite"
        _, before, _ = await get(port, "/metrics")
        fake.add_user("carol")
        for user in ("alice", "carol"):  # a miss, then a hit (two users: no cooldown in the way)
            record = await fake.run_slash(user, "digit", files={"image": ("7.png", mnist_png(mnist, 0), "image/png")})
            await fake.wait_for_reply(record)
        await fake.wait_for_reply(await fake.run_slash("bob", "status"))
        _, metrics, _ = await get(port, "/metrics")
        for name, grew in (('mlbot_commands_total{adapter="discord",command="status",outcome="ok"}', 1),
                           ('mlbot_commands_total{adapter="discord",command="digit",outcome="ok"}', 2),
                           ('mlbot_command_seconds_bucket{command="digit",le="+Inf"}', 2)):
            assert sample(metrics, name) - sample(before, name) == grew, name
        assert sample(metrics, 'mlbot_cache_lookups_total{result="hit"}') == 1  # this app's own cache
        assert 'mlbot_queue_depth{service="digits"} 0.0' in metrics
        assert 'mlbot_gateway_latency_seconds{shard="0"}' in metrics

        bot.runner.app.runtime("digits").shutdown()  # the inference backend is gone
        status, _, body = await get(port, "/healthz")
        assert status == 503 and not body["ok"] and not body["inference"]["ok"] and body["database"]["ok"]
    finally:
        await stop_bot(bot)
        await fake.stop()


async def test_healthz_names_a_database_that_stopped_answering(home_with_model, point_discord_at):
    fake = await FakeDiscord(heartbeat_interval_ms=300).start()
    point_discord_at(fake)
    bot = await start_bot(fake, home_with_model, health_port=0)
    try:
        await bot.runner.app.db.close()
        status, _, body = await get(bot.runner.health.port, "/healthz")
        assert status == 503 and body["discord"]["ok"] and "is not open" in body["database"]["detail"]
    finally:
        await stop_bot(bot)
        await fake.stop()


async def test_healthz_says_so_when_discord_is_not_connected(app):
    from bot.adapters.health import HealthServer

    health = await HealthServer(app, lambda: None, 0).start()
    try:
        status, _, body = await get(health.port, "/healthz")
        assert status == 503 and body["discord"] == {"ok": False, "detail": "not connected to Discord"}
        assert body["database"]["ok"] and body["inference"]["ok"]
    finally:
        await health.stop()

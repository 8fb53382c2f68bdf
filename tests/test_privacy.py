"""/privacy and /mydata end to end: the file a user gets holds exactly their rows."""
from __future__ import annotations

import base64
import json

from bot.app import App
from bot.commands import CommandContext, run_command
from tests.conftest import mnist_png
from tests.fake_discord import FakeDiscord
from tests.test_discord_e2e import PNG, start_bot, stop_bot


async def test_mydata_matches_the_database_and_is_only_the_askers(home_with_model, point_discord_at, mnist):
    fake = await FakeDiscord().start()
    point_discord_at(fake)
    try:
        running = await start_bot(fake, home_with_model)
        app = running.app
        for i in (0, 1):
            record = await fake.run_slash("bob", "digit", files={"image": (f"{i}.png", mnist_png(mnist, i), PNG)})
            assert "Digit reader" in (await fake.wait_for_reply(record)).text
        record = await fake.run_slash("alice", "digit", files={"image": ("a.png", mnist_png(mnist, 5), PNG)})
        await fake.wait_for_reply(record)
        bob = app.user_key("discord", fake.users["bob"]["id"])
        await app.friend.memory.add_exchange(bob, "conv1", "bob", "my cat is called Miso", "Lovely name!",
                                             [("pet:cat", "The user's cat is called Miso", "Miso")])
        await app.friend.memory.set_persona(f"user:{bob}", "a pirate")

        reply = await fake.wait_for_reply(await fake.run_slash("bob", "mydata"))
        assert reply.ephemeral and [name for name, _ in reply.files] == ["mydata.json"]
        export = json.loads(reply.files[0][1])
        assert export["user_key"] == bob
        # Compared with the database, row for row.
        keys = {row[0] for row in await app.db.fetchall("SELECT key FROM cache_users WHERE user_key = ?", (bob,))}
        assert {r["key"] for r in export["results"]} == keys and len(keys) == 2
        for result in export["results"]:
            stored = await app.db.fetchone("SELECT result, blob FROM cache WHERE key = ?", (result["key"],))
            assert result["result"] == json.loads(stored[0])
            assert base64.b64decode(result["file_base64"]) == bytes(stored[1])  # the 28x28 picture
        turns = await app.db.fetchall("SELECT content FROM friend_turns WHERE user_key = ? ORDER BY id", (bob,))
        assert [t["content"] for t in export["friend"]["turns"]] == [row[0] for row in turns]
        assert [f["value"] for f in export["friend"]["facts"]] == ["Miso"]
        assert export["friend"]["persona"][0]["persona"] == "a pirate"
        assert len(export["rate_limit_events"]) == 2  # the two /digit uses in the last minute
        assert "5 stored row(s)" not in reply.text and reply.text.startswith(
            f"{2 + 2 + 1 + 1 + 2} stored row(s) about you: 2 result(s), 4 from the friend's memory")
        # Nothing of alice's is in bob's file, and /forget empties it.
        alice = app.user_key("discord", fake.users["alice"]["id"])
        assert alice not in reply.files[0][1].decode()
        await fake.wait_for_reply(await fake.run_slash("bob", "forget"))
        again = json.loads((await fake.wait_for_reply(await fake.run_slash("bob", "mydata"))).files[0][1])
        assert again["results"] == [] and all(rows == [] for rows in again["friend"].values())

        privacy = await fake.wait_for_reply(await fake.run_slash("bob", "privacy"))
        assert privacy.ephemeral and "/mydata" in privacy.text and "/forget" in privacy.text
        await stop_bot(running)
    finally:
        await fake.stop()


async def test_mydata_in_the_console(home_with_model):
    async with App(home_with_model) as app:
        reply = await run_command("mydata", CommandContext(app, "console", "local"))
        assert not reply.is_error and reply.data["rows"] == 0 and reply.files[0].filename == "mydata.json"


async def test_retention_expires_old_user_data_and_keeps_the_rest(make_db):
    from storage import ResultCache
    from storage.friend_memory import FriendMemory
    from storage.user_data import expire_user_data, export_user

    async with make_db() as db:
        cache, memory = ResultCache(db), FriendMemory(db)
        await cache.put("old", "digits", "v1", {"d": 1}, blob=b"png", user_key="u1")
        await cache.put("new", "digits", "v1", {"d": 2}, user_key="u1")
        await cache.put("nobodys", "digits", "v1", {"d": 3})  # tied to no user: the size bound's business
        await memory.add_exchange("u1", "c1", "Ana", "old words", "old reply", [("pet:dog", "A dog", "Rex")])
        await memory.set_persona("user:u1", "a pirate")
        await memory.set_persona("guild:g1", "a librarian")  # a server's, not a user's
        await memory.remember_thread("t1", "u1")
        # Age everything, then touch what must stay.
        for table, column in (("cache", "last_used_at"), ("friend_turns", "at"), ("friend_facts", "at"),
                              ("friend_personas", "set_at"), ("friend_threads", "opened_at")):
            async with db.transaction() as tx:
                await tx.execute(f"UPDATE {table} SET {column} = ?", (1000.0,))
        await cache.get("new", user_key="u1")  # used now
        await memory.add_exchange("u1", "c1", "Ana", "new words", "new reply", [])

        removed = await expire_user_data(db, before=5000.0)
        assert removed["cache"] == 1 and removed["friend_turns"] == 2 and removed["friend_facts"] == 1
        assert removed["friend_personas"] == 1 and removed["friend_threads"] == 1
        left = await export_user(db, "u1")
        assert [r["key"] for r in left["results"]] == ["new"]
        assert [t["content"] for t in left["friend"]["turns"]] == ["new words", "new reply"]
        assert left["friend"]["persona"] == [] and left["friend"]["threads"] == []
        assert await cache.get("nobodys") is not None
        assert await memory.persona("u2", "g1") == "a librarian"
        assert await db.fetchall("SELECT key FROM cache_users WHERE key = 'old'") == []


async def test_the_sweeper_runs_at_once_then_every_interval_and_stops(app, monkeypatch):
    import asyncio

    from bot.services.retention import RetentionSweeper, retention_days

    monkeypatch.setenv("MLBOT_RETENTION_DAYS", "soon")
    assert retention_days() == 90  # a bad value: the default, and a warning in the log
    monkeypatch.setenv("MLBOT_RETENTION_DAYS", "0")
    assert await RetentionSweeper(app).sweep_once() == {}  # 0 keeps everything

    await app.cache.put("k", "digits", "v1", {"d": 1}, user_key="u1")
    now = [1e12]  # far in the future: everything is older than 30 days
    sweeper = RetentionSweeper(app, days=30, interval=0.05, clock=lambda: now[0])
    stop = asyncio.Event()
    task = asyncio.create_task(sweeper.run(stop))
    await asyncio.sleep(0.02)
    assert await app.cache.get("k") is None  # the first sweep ran at start
    await app.cache.put("k2", "digits", "v1", {"d": 2}, user_key="u1")
    await asyncio.sleep(0.15)
    assert await app.cache.get("k2") is None  # and again after the interval
    stop.set()
    await asyncio.wait_for(task, 1)
    reply = await run_command("privacy", CommandContext(app, "console", "local"))
    assert "untouched for 90 days" in reply.text or "kept until you delete them" in reply.text

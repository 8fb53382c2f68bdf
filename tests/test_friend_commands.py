"""The friend through the command layer, the CLI and SQLite: memory that survives a restart,
personas kept apart, /forget leaving nothing behind, bad input, many users at once."""
from __future__ import annotations

import asyncio
import json

import pytest

import bot.services.friend as friend_service
from bot.app import App
from bot.adapters.cli import main as cli_main
from bot.commands import CommandContext, run_command
from ml.friend.conversation import DEFAULT_PERSONA, Friend

FRIEND_TABLES = ("friend_turns", "friend_summaries", "friend_facts", "friend_personas", "friend_threads")


@pytest.fixture
async def app(home_with_friend):
    app = await App(home_with_friend).start()
    yield app
    await app.close()


@pytest.fixture
def replies_asked(monkeypatch) -> list[dict]:
    """What each friend reply was built from (persona, speaker, memory), in order."""
    asked = []
    original = Friend.reply

    def reply(self, persona, speaker, memory, message, *args, **kwargs):
        asked.append({"persona": persona, "speaker": speaker, "memory": memory})
        return original(self, persona, speaker, memory, message, *args, **kwargs)
    monkeypatch.setattr(Friend, "reply", reply)
    return asked


def as_user(app, name: str, channel: str | None = None, guild: str | None = None) -> CommandContext:
    return CommandContext(app, "discord", f"id-{name}", guild, channel_id=channel or f"dm-{name}", user_name=name)


async def rows_about(app, user_key: str) -> int:
    total = 0
    for table, column in (("friend_turns", "user_key"), ("friend_summaries", "user_key"), ("friend_facts", "user_key"),
                          ("friend_threads", "user_key"), ("cache_users", "user_key")):
        total += (await app.db.fetchone(f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", (user_key,)))[0]
    total += (await app.db.fetchone("SELECT COUNT(*) FROM friend_personas WHERE scope = ?", (f"user:{user_key}",)))[0]
    return total


async def test_a_reply_is_stored_with_the_facts_the_user_shared(app):
    reply = await run_command("friend", as_user(app, "ana"), message="Hi! My dog is called Rex.")
    assert not reply.is_error and reply.text and reply.data["tokens"] > 0
    user_key = app.user_key("discord", "id-ana")
    memory = await app.friend.memory.load(user_key, app.friend.conversation_id("discord", "dm-ana"), 8)
    assert [f.text for f in memory.facts] == ["The user's dog is called Rex"]
    assert [(t.role, t.content) for t in memory.turns] == [("user", "Hi! My dog is called Rex."),
                                                           ("assistant", reply.data["reply"])]


async def test_memory_and_summary_survive_a_restart(home_with_friend, monkeypatch, replies_asked):
    monkeypatch.setattr(friend_service, "RECENT_TURNS", 2)
    monkeypatch.setattr(friend_service, "SUMMARISE_AFTER", 2)
    app = await App(home_with_friend).start()
    for message in ("My cat is named Mochi.", "I live in Lisbon.", "What should I cook tonight?"):
        assert not (await run_command("friend", as_user(app, "ana"), message=message)).is_error
    await app.friend.settle()
    await app.close()

    app = await App(home_with_friend).start()
    try:
        conversation = app.friend.conversation_id("discord", "dm-ana")
        memory = await app.friend.memory.load(app.user_key("discord", "id-ana"), conversation, 2)
        assert {f.text for f in memory.facts} == {"The user's cat is called Mochi", "The user lives in Lisbon"}
        assert memory.summary  # the two oldest turns were folded into it before the restart
        assert [t.content for t in memory.turns][0] == "What should I cook tonight?"
        await run_command("friend", as_user(app, "ana"), message="Do you remember my cat?")
        used = replies_asked[-1]["memory"]
        assert "The user's cat is called Mochi" in [f.text for f in used.facts] and used.summary == memory.summary
    finally:
        await app.close()


async def test_personas_are_kept_apart_and_the_server_sets_a_default(app, replies_asked):
    assert not (await run_command("friend", as_user(app, "ana", "c1", "g1"), persona="You are a pirate.")).is_error
    admin = as_user(app, "admin", "c1", "g1")
    admin.can_manage_server = True
    assert not (await run_command("config friend-persona", admin, persona="You are a librarian.")).is_error
    await run_command("friend", as_user(app, "ana", "c1", "g1"), message="hello")
    await run_command("friend", as_user(app, "bo", "c1", "g1"), message="hello")
    await run_command("friend", as_user(app, "cy", "c9", "g2"), message="hello")
    assert {r["speaker"]: r["persona"] for r in replies_asked} == {
        "ana": "You are a pirate.", "bo": "You are a librarian.", "cy": DEFAULT_PERSONA}
    reset = await run_command("friend", as_user(app, "ana", "c1", "g1"), persona="default")
    assert "default" in reset.text
    await run_command("friend", as_user(app, "ana", "c1", "g1"), message="hello again")
    assert replies_asked[-1]["persona"] == "You are a librarian."


async def test_config_friend_persona_needs_manage_server(app):
    reply = await run_command("config friend-persona", as_user(app, "ana", "c1", "g1"), persona="A cat.")
    assert reply.is_error and "Manage Server" in reply.text


async def test_forget_leaves_nothing_of_the_user(app):
    ana, bo = app.user_key("discord", "id-ana"), app.user_key("discord", "id-bo")
    await run_command("friend", as_user(app, "ana"), persona="You are calm.")
    for message in ("My name is Ana.", "I love chess.", "How are you?"):
        await run_command("friend", as_user(app, "ana"), message=message)
        await run_command("friend", as_user(app, "ana", "c1", "g1"), message=message)
    await run_command("friend", as_user(app, "bo"), message="My dog is called Rex.")
    await app.friend.settle()
    before = await rows_about(app, ana)
    assert before >= 15
    reply = await run_command("forget", as_user(app, "ana"))
    assert reply.data["deleted"] == before and reply.data["results"] > 0 and reply.data["friend"] > 0
    assert f"Deleted {reply.data['deleted']} row(s)" in reply.text
    assert await rows_about(app, ana) == 0
    texts = [row[0] for row in await app.db.fetchall("SELECT content FROM friend_turns")]
    assert texts and not any("Ana" in t or "chess" in t for t in texts if t)
    assert await rows_about(app, bo) > 0  # somebody else's memory stays


@pytest.mark.parametrize("message, expected", [("   ", "the message is empty"), (None, "say something")])
async def test_bad_friend_input_gets_one_line(app, message, expected):
    options = {"message": message} if message is not None else {}
    reply = await run_command("friend", as_user(app, "ana"), **options)
    assert reply.is_error and expected in reply.text and "\n" not in reply.text


async def test_a_very_long_message_is_trimmed_with_a_note(app):
    reply = await run_command("friend", as_user(app, "ana"), message="please listen " * 900)
    assert not reply.is_error and "your message was long" in reply.text


async def test_twenty_users_at_once_are_each_answered(app):
    replies = await asyncio.gather(*[run_command("friend", as_user(app, f"user{i}"), message=f"hello, I am {i}")
                                     for i in range(20)])
    assert all(not r.is_error and r.data["reply"] for r in replies)


async def test_without_a_model_it_says_how_to_build_it(home):
    app = await App(home).start()
    try:
        reply = await run_command("friend", as_user(app, "ana"), message="hi")
        assert reply.is_error and "mlbot train friend" in reply.text
    finally:
        await app.close()


def test_cli_friend_keeps_memory_per_user(home_with_friend, capsys):
    assert cli_main(["friend", "My dog is called Rex.", "--user", "ana", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert set(first) >= {"reply", "tokens", "seconds"} and first["tokens"] > 0
    assert cli_main(["friend", "What is my dog called?", "--user", "ana", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["reply"] and not second["cached"]  # a second turn, not the first one served again

    async def facts() -> list[str]:
        app = await App(home_with_friend).start()
        try:
            key = app.user_key("cli", "ana")
            return [f.text for f in (await app.friend.memory.load(key, app.friend.conversation_id("cli", "ana"), 8)).facts]
        finally:
            await app.close()
    assert asyncio.run(facts()) == ["The user's dog is called Rex"]

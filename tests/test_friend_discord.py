"""The friend over a Discord stand-in: DMs, mentions that open a thread, the thread going on
without mentions, typing while it thinks, replies growing by edits about once a second."""
from __future__ import annotations

import asyncio
import time


from bot.adapters.discord_bot import StreamingReply
from bot.reply import Reply
from tests.fake_discord import FakeDiscord
from tests.test_discord_e2e import start_bot, stop_bot


async def run_bot(home, point, **fake_options):
    fake = await FakeDiscord(heartbeat_interval_ms=500, **fake_options).start()
    point(fake)
    return fake, await start_bot(fake, home)


async def shut(fake, running) -> None:
    await stop_bot(running)
    await fake.stop()


async def test_a_dm_is_answered_with_typing_first(home_with_friend, point_discord_at):
    fake, running = await run_bot(home_with_friend, point_discord_at)
    try:
        await fake.user_says("bob", "hi! my dog is called Rex", dm=True)
        dm = fake.dm_channels[fake.users["bob"]["id"]]["id"]
        reply = await fake.wait_for_channel_message(channel_id=dm)
        assert reply.text.strip()
        assert any(channel == dm for channel, _ in fake.typing)
        # A DM that starts with a command's name is still chat; the bare name is the command.
        await fake.user_says("bob", "help me plan my week, please", dm=True)
        await fake.wait_until(lambda: len(fake.bot_messages_in(dm)) >= 2, what="no second reply")
        assert "Commands" not in fake.bot_messages_in(dm)[1].text
        await fake.user_says("bob", "help", dm=True)
        await fake.wait_until(lambda: len(fake.bot_messages_in(dm)) >= 3, what="no help")
        assert "Commands" in fake.bot_messages_in(dm)[2].text
        app = running.app
        memory = await app.friend.memory.load(app.user_key("discord", fake.users["bob"]["id"]),
                                              app.friend.conversation_id("discord", dm), 8)
        assert [f.text for f in memory.facts] == ["The user's dog is called Rex"]
        assert fake.errors == []
    finally:
        await shut(fake, running)


async def test_a_mention_opens_a_thread_that_goes_on_without_mentions(home_with_friend, point_discord_at):
    fake, running = await run_bot(home_with_friend, point_discord_at)
    try:
        said = await fake.user_says("bob", f"<@{fake.app_id}> hello there, I live in Oslo.", mention_bot=True)
        thread = await fake.wait_until(lambda: fake.threads.get(said["id"]), what="no thread was opened")
        first = await fake.wait_for_channel_message(channel_id=thread["id"])
        assert first.text.strip()
        await fake.user_says("bob", "what's new with you?", channel_id=thread["id"])
        await fake.wait_until(lambda: len(fake.bot_messages_in(thread["id"])) >= 2, what="no second reply")
        # One conversation per channel: the thread's turns are stored under the parent channel.
        app = running.app
        memory = await app.friend.memory.load(app.user_key("discord", fake.users["bob"]["id"]),
                                              app.friend.conversation_id("discord", fake.channel_id), 8)
        assert [t.content for t in memory.turns if t.role == "user"] == ["hello there, I live in Oslo.",
                                                                         "what's new with you?"]
        assert fake.bot_messages_in(fake.channel_id) == []  # nothing went to the channel itself
        assert fake.errors == []
    finally:
        await shut(fake, running)


async def test_without_thread_permission_it_replies_in_the_channel(home_with_friend, point_discord_at):
    fake, running = await run_bot(home_with_friend, point_discord_at, allow_threads=False)
    try:
        said = await fake.user_says("bob", f"<@{fake.app_id}> good morning!", mention_bot=True)
        reply = await fake.wait_for_channel_message(channel_id=fake.channel_id)
        assert str(reply.payload["message_reference"]["message_id"]) == said["id"] and fake.threads == {}
        # A plain message in the channel, without a mention, is not the friend's business.
        await fake.user_says("bob", "talking to someone else")
        await asyncio.sleep(0.5)
        assert len(fake.bot_messages_in(fake.channel_id)) == 1
    finally:
        await shut(fake, running)


async def test_an_attachment_it_cannot_read_gets_a_clear_line(home_with_friend, point_discord_at):
    fake, running = await run_bot(home_with_friend, point_discord_at)
    try:
        await fake.user_says("bob", "", dm=True, files=[("cat.png", b"\x89PNG fake", "image/png")])
        dm = fake.dm_channels[fake.users["bob"]["id"]]["id"]
        reply = await fake.wait_for_channel_message(channel_id=dm)
        assert "I can only read text" in reply.text and "cat.png" in reply.text
    finally:
        await shut(fake, running)


async def test_a_growing_reply_is_edited_about_once_a_second(home_with_friend, point_discord_at):
    fake, running = await run_bot(home_with_friend, point_discord_at)
    try:
        channel = running.runner.client.get_channel(int(fake.channel_id))
        stream = StreamingReply(channel)
        text = ""
        started = time.monotonic()
        while time.monotonic() - started < 3.5:  # a sentence every 0.1 s for 3.5 s
            text += "More words here. "
            await stream.update(text)
            await asyncio.sleep(0.1)
        await stream.finish(Reply(text=text.strip()))
        [message] = fake.bot_messages_in(fake.channel_id)
        assert message.text == text.strip()
        times = [at for at, _ in message.edits]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert 2 <= len(message.edits) <= 5 and all(gap >= 0.9 for gap in gaps), gaps
    finally:
        await shut(fake, running)

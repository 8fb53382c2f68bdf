"""Regenerate under the friend's replies, through the fake Discord: the latest exchange is asked
again with another seed (replacing it in the friend's memory), only by the one who spoke, and
only for the latest reply."""
from __future__ import annotations

from tests.fake_discord import FakeDiscord
from tests.test_discord_e2e import start_bot, stop_bot


def labels(fake, message) -> list[str]:
    return [b["label"] for b in fake.buttons(message)]


async def answered(fake, record):
    await fake.wait_until(lambda: record.acknowledged_at is not None and (record.ack_type != 5 or record.replies),
                          what="no answer to the click")
    return await fake.wait_for_reply(record)


async def test_regenerate_a_friend_reply_in_its_thread(home_with_friend, point_discord_at):
    fake = await FakeDiscord().start()
    point_discord_at(fake)
    running = await start_bot(fake, home_with_friend)
    try:
        app = running.app
        said = await fake.user_says("bob", f"<@{fake.app_id}> hello there, what should I cook tonight?",
                                    mention_bot=True)
        thread = await fake.wait_until(lambda: fake.threads.get(said["id"]), what="no thread was opened")
        first = await fake.wait_until(lambda: next((m for m in fake.bot_messages_in(thread["id"])
                                                    if fake.buttons(m)), None), what="no Regenerate button")
        assert labels(fake, first) == ["Regenerate"]
        bob = app.user_key("discord", fake.users["bob"]["id"])
        conversation = app.friend.conversation_id("discord", fake.channel_id)  # kept under the parent channel
        before = await app.friend.memory.last_exchange(bob, conversation)
        assert before is not None and before[1].content in first.content
        cached = len(await app.cache.of_user(bob, "friend"))

        refused = await answered(fake, await fake.click_button("alice", first, "Regenerate"))
        assert refused.ephemeral and refused.content.startswith("Only the person who asked can use these buttons")
        record = await fake.click_button("bob", first, "Regenerate")
        second = await answered(fake, record)
        assert record.ack_type == 5 and not second.ephemeral and labels(fake, second) == ["Regenerate"]
        # The exchange was asked again (a new cache entry: another seed) and replaced, not added to.
        memory = await app.friend.memory.load(bob, conversation, 10)
        assert [(t.role, t.content) for t in memory.turns] == [("user", before[0].content),
                                                               ("assistant", memory.turns[-1].content)]
        assert memory.turns[0].speaker == before[0].speaker and memory.turns[-1].content in second.text
        assert len(await app.cache.of_user(bob, "friend")) == cached + 1

        # The older reply's button no longer applies: one private line, and memory is unchanged.
        stale = await answered(fake, await fake.click_button("bob", first, "Regenerate"))
        assert stale.ephemeral and stale.content == "only the friend's latest reply in a conversation can be regenerated"
        assert [t.content for t in (await app.friend.memory.load(bob, conversation, 10)).turns] == \
            [t.content for t in memory.turns]
        assert fake.errors == []
    finally:
        await stop_bot(running)
        await fake.stop()

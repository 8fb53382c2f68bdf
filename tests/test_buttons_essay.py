"""Regenerate under /essay, through the fake Discord: the same topic and options with a new seed,
found among the asker's own stored essays (so after /forget there is nothing to regenerate)."""
from __future__ import annotations

import pytest

from tests.conftest import install_models
from tests.fake_discord import FakeDiscord
from tests.test_discord_e2e import start_bot, stop_bot


def field(message, name: str) -> str:
    return next(f["value"] for f in message.embeds[0]["fields"] if f["name"] == name)


async def final_answer(fake, record, timeout: float = 300):
    """The essay: the thinking message's replacement, or the new message after progress lines."""
    return await fake.wait_until(lambda: next((m for m in reversed(record.replies) if m.embeds), None),
                                 timeout, "no essay")


@pytest.fixture
async def fake_and_bot(home, tiny_essay_root, point_discord_at):
    install_models(home, tiny_essay_root)
    fake = await FakeDiscord().start()
    point_discord_at(fake)
    running = await start_bot(fake, home)
    yield fake, running
    await stop_bot(running)
    await fake.stop()


async def test_regenerate_an_essay_with_a_new_seed_then_not_after_forget(fake_and_bot):
    fake, running = fake_and_bot
    first = await final_answer(fake, await fake.run_slash(
        "bob", "essay", {"topic": "coal and steel", "words": 120, "style": "small", "seed": 4, "temperature": 0.9}))
    assert [b["label"] for b in fake.buttons(first)] == ["Regenerate"]
    record = await fake.click_button("bob", first, "Regenerate")
    second = await final_answer(fake, record)
    assert record.ack_type == 5 and [b["label"] for b in fake.buttons(second)] == ["Regenerate"]
    style_seed = field(second, "style / seed")
    assert style_seed.startswith("small / ") and style_seed != field(first, "style / seed")
    assert field(second, "words").endswith("(asked 120)")

    await fake.wait_for_reply(await fake.run_slash("bob", "forget"))
    gone = await fake.click_button("bob", second, "Regenerate")
    answer = await fake.wait_until(lambda: gone.replies and gone.replies[-1], what="no answer after /forget")
    assert answer.ephemeral and answer.content == "that essay is no longer stored (deleted or expired): run /essay again"
    assert fake.errors == []

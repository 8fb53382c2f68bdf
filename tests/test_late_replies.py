"""An answer ready after the interaction's token expired is posted as a plain message, not lost.
The fake's tokens live 15 minutes, as Discord's, on an injected clock the tests move on."""
from __future__ import annotations

import asyncio

import pytest

from tests.conftest import mnist_png
from tests.fake_discord import FakeClock
from tests.test_discord_e2e import PNG, bot_on_fake

FIFTEEN_MINUTES = 15 * 60


@pytest.fixture
async def bot(home_with_model, point_discord_at):
    async with bot_on_fake(home_with_model, point_discord_at, clock=FakeClock()) as running:
        assert running.fake.token_lifetime == FIFTEEN_MINUTES
        yield running


def outlives_the_token(method, clock: FakeClock):
    """The work takes longer than the token lives: the fake's clock jumps past it meanwhile."""
    async def slow(*args, **kwargs):
        clock.advance(FIFTEEN_MINUTES + 1)
        return await method(*args, **kwargs)
    return slow


def slowed(method, seconds: float):
    async def slow(*args, **kwargs):
        await asyncio.sleep(seconds)
        return await method(*args, **kwargs)
    return slow


async def test_a_late_answer_goes_to_the_channel_with_a_mention(bot, mnist, monkeypatch):
    fake = bot.fake
    monkeypatch.setattr(bot.app.digits, "read", outlives_the_token(bot.app.digits.read, fake.clock))
    record = await fake.run_slash("bob", "digit", files={"image": ("a.png", mnist_png(mnist, 0), PNG)})
    posted = await fake.wait_for_channel_message(channel_id=fake.channel_id, timeout=30)
    bob = fake.users["bob"]["id"]
    assert posted.content.startswith(f"<@{bob}>, your /digit is ready (it took longer than Discord lets")
    assert "Digit reader" in posted.text and [name for name, _ in posted.files] == ["model-input.png"]
    assert record.followups == [] and record.original is None  # nothing went to the dead token
    # discord.py's clock says the token is alive: the bot tried it once, then posted.
    assert [error["code"] for error in fake.errors] == [50027]
    # The late answer keeps its buttons, and they work for the asker.
    assert [b["label"] for b in fake.buttons(posted)] == ["Was this right?"]
    click = await fake.click_button("bob", posted, "Was this right?")
    panel = await fake.wait_for_reply(click)
    assert panel.ephemeral and "Was this right" not in panel.content and "Typed:" in panel.content


async def test_a_late_answer_only_the_asker_may_see_goes_to_a_dm(bot, monkeypatch):
    import bot.commands.privacy as privacy

    fake = bot.fake
    monkeypatch.setattr(privacy, "export_user", outlives_the_token(privacy.export_user, fake.clock))
    await fake.run_slash("bob", "mydata")
    dm = fake.dm_channel_for(fake.users["bob"])["id"]
    posted = await fake.wait_for_channel_message(channel_id=dm, timeout=30)
    assert posted.content.startswith("Your /mydata is ready") and [n for n, _ in posted.files] == ["mydata.json"]
    assert not fake.bot_messages_in(fake.channel_id)  # nothing of it in the server's channel


async def test_typing_is_kept_alive_through_a_long_friend_reply(home_with_friend, point_discord_at, monkeypatch):
    """Discord shows "typing" for about 10 s per signal: a reply that takes longer must renew it."""
    async with bot_on_fake(home_with_friend, point_discord_at) as running:
        fake = running.fake
        monkeypatch.setattr(running.app.friend, "chat", slowed(running.app.friend.chat, 11.0))
        await fake.user_says("bob", "tell me something", dm=True)
        dm = fake.dm_channel_for(fake.users["bob"])["id"]
        await fake.wait_for_channel_message(channel_id=dm, timeout=60)
        signals = [at for channel, at in fake.typing if channel == dm]
        assert len(signals) >= 3, signals  # at the start, then every 5 s while it thinks
        assert max(b - a for a, b in zip(signals, signals[1:])) < 6.5

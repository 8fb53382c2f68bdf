"""Installs anywhere: /digit, /tone, /essay and "Check tone" can be installed by a user and used
in DMs, group DMs and servers that never added the bot, answering only the asker there."""
from __future__ import annotations

import discord
import pytest

from bot.adapters.discord_bot import MlBotClient
from tests.conftest import mnist_png
from tests.test_discord_e2e import PNG, bot_on_fake


def test_only_the_standalone_commands_are_user_installable(app):
    client = MlBotClient(app, discord.Intents.default())
    payloads = {c.name: c.to_dict(client.tree) for c in client.tree.get_commands()}
    for name in ("digit", "tone", "essay", "Check tone"):
        assert payloads[name]["integration_types"] == [0, 1] and payloads[name]["contexts"] == [0, 1, 2], name
    for name in ("config", "stats", "track", "friend", "mydata"):
        assert payloads[name].get("integration_types") in (None, [0]), name


@pytest.fixture
async def bot(home_with_model, point_discord_at):
    async with bot_on_fake(home_with_model, point_discord_at) as running:
        yield running


async def test_a_user_install_answers_in_a_foreign_server_and_a_group_dm_for_the_asker_only(bot, mnist):
    fake = bot.fake
    assert fake.foreign_guild_id not in {str(g.id) for g in bot.runner.client.guilds}  # the bot is not there
    for where in ({"user_install": True}, {"group_dm": True}):
        record = await fake.run_slash("bob", "digit", files={"image": ("a.png", mnist_png(mnist, 0), PNG)}, **where)
        reply = await fake.wait_for_reply(record)
        assert record.ack_type == 5 and record.ephemeral, where  # deferred for the asker alone
        assert "Digit reader" in reply.text and reply.ephemeral, where
    # In the bot's own server the answer stays public.
    record = await fake.run_slash("bob", "digit", files={"image": ("a.png", mnist_png(mnist, 1), PNG)})
    assert not (await fake.wait_for_reply(record)).ephemeral
    # Discord does not offer the rest there.
    for name in ("track", "config", "stats"):
        with pytest.raises(LookupError):
            await fake.run_slash("bob", name, group_dm=True)
    assert fake.errors == []

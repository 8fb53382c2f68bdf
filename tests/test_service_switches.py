"""/config services end to end, against the fake Discord: a switched-off command answers one
line saying an admin turned it off; channels override the server; the DM switch is the owner's."""
from __future__ import annotations

import pytest

from bot.app import App
from bot.commands import CommandContext, run_command
from tests.conftest import mnist_png
from tests.fake_discord import FakeDiscord
from tests.fake_discord.server import Channel
from tests.test_discord_e2e import PNG, start_bot, stop_bot


@pytest.fixture
async def bot(home_with_model, point_discord_at):
    fake = await FakeDiscord().start()
    fake.add_user("carol", manage_guild=True)  # an admin of the server, not the bot's owner (alice)
    point_discord_at(fake)
    running = await start_bot(fake, home_with_model)
    yield running
    await stop_bot(running)
    await fake.stop()


async def config_services(fake, user: str, **options):
    record = await fake.run_slash(user, "config", options, subcommand="services")
    return await fake.wait_for_reply(record)


async def digit(fake, user: str, mnist, **where):
    record = await fake.run_slash(user, "digit", files={"image": ("a.png", mnist_png(mnist, 0), PNG)}, **where)
    return await fake.wait_for_reply(record)


async def test_a_server_switch_turns_a_service_off_and_a_channel_can_turn_it_back_on(bot, mnist):
    fake = bot.fake
    off = await config_services(fake, "carol", service="digit", state="off")
    assert off.ephemeral and "/digit is now off in this server" in off.text
    refused = await digit(fake, "bob", mnist)
    assert refused.ephemeral and refused.content == "an admin turned /digit off in this server"
    helped = await fake.wait_for_reply(await fake.run_slash("bob", "help"))
    assert "(an admin turned it off here)" in next(line for line in helped.text.splitlines() if line.startswith("/digit"))
    assert "(an admin turned it off here)" not in next(line for line in helped.text.splitlines()
                                                       if line.startswith("/tone"))
    # Other services are untouched.
    record = await fake.run_slash("bob", "tone", {"text": "fine, thanks"})
    assert "turned" not in (await fake.wait_for_reply(record)).text

    on_here = await config_services(fake, "carol", service="digit", state="on", where="channel",
                                    channel=Channel(fake.channel_id, "general"))
    assert f"/digit is now on in <#{fake.channel_id}>" in on_here.text
    assert "Digit reader" in (await digit(fake, "bob", mnist)).text

    shown = await fake.wait_for_reply(await fake.run_slash("carol", "config", subcommand="show"))
    assert "server: digit off, tone on, essay on, track on, friend on" in shown.text
    assert f"<#{fake.channel_id}>: digit on" in shown.text

    # "default" hands the channel back to the server's switch.
    await config_services(fake, "carol", service="digit", state="default", where="channel")
    assert (await digit(fake, "bob", mnist)).content == "an admin turned /digit off in this server"
    await config_services(fake, "carol", service="all", state="off", where="channel")
    await config_services(fake, "carol", service="digit", state="on")
    assert (await digit(fake, "bob", mnist)).content == "an admin turned /digit off in this channel"
    assert fake.errors == []


async def test_only_admins_switch_and_bad_values_get_one_line(bot):
    fake = bot.fake
    denied = await config_services(fake, "bob", service="digit", state="off")
    assert denied.content == "/config services needs the Manage Server permission"
    wrong = await config_services(fake, "carol", service="chess", state="off")
    assert wrong.content == "service is one of digit, tone, essay, track, friend, or all (not 'chess')"
    assert (await config_services(fake, "carol", service="tone", state="maybe")).content == \
        "state is on, off or default"
    assert (await config_services(fake, "carol", service="tone", state="off", where="moon")).content == \
        "where is server, channel or dm"
    # An admin of a server is not the bot's owner: DMs are not theirs to switch.
    assert (await config_services(fake, "carol", service="friend", state="off", where="dm")).content == \
        "only the bot's owner can switch services in DMs"
    assert await bot.app.switches.listing(fake.guild_id) == []


async def test_the_owner_turns_the_friend_off_in_dms(bot, mnist):
    fake = bot.fake
    done = await config_services(fake, "alice", service="friend", state="off", where="dm")  # alice owns the app
    assert "/friend is now off in DMs" in done.text
    await fake.user_says("bob", "hello, how are you?", dm=True)
    dm = fake.dm_channels[fake.users["bob"]["id"]]["id"]
    reply = await fake.wait_for_channel_message(channel_id=dm)
    assert reply.content == "an admin turned /friend off in direct messages"
    slash = await fake.run_slash("bob", "friend", {"message": "hi"}, dm=True)
    assert (await fake.wait_for_reply(slash)).content == "an admin turned /friend off in direct messages"
    # Only the friend, and only in DMs: /digit in a DM still answers.
    assert "Digit reader" in (await digit(fake, "bob", mnist, dm=True)).text
    shown = await fake.wait_for_reply(await fake.run_slash("alice", "config", subcommand="show"))
    assert "DMs (the bot's owner): digit on, tone on, essay on, track on, friend off" in shown.text


async def test_a_mention_of_a_switched_off_friend_opens_no_thread(bot):
    fake = bot.fake
    await config_services(fake, "carol", service="friend", state="off")
    await fake.user_says("bob", f"<@{fake.app_id}> hi there", mention_bot=True)
    reply = await fake.wait_for_channel_message(channel_id=fake.channel_id)
    assert reply.content == "an admin turned /friend off in this server"
    assert fake.threads == {}


async def test_the_console_operator_sets_the_dm_switch_but_not_a_server_one(home_with_model):
    async with App(home_with_model) as app:
        console = CommandContext(app, "console", "local")
        reply = await run_command("config services", console, service="friend", state="off", where="dm")
        assert not reply.is_error and "off in DMs" in reply.text
        assert (await app.switches.decide(None, [], "friend")).enabled is False
        server = await run_command("config services", console, service="digit", state="off", where="server")
        assert server.is_error and server.text == "a server switch is set in a server: use it there, or where:dm"
        assert (await app.switches.decide(None, [], "digit")).where == "default"
        # Switches hold on Discord only: the operator's own console still runs a switched-off service.
        assert "turned" not in (await run_command("friend", console, message="hi")).text

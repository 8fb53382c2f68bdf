"""The fake Discord enforces Discord's rules with Discord's error codes, so bot bugs show up."""
import asyncio
import json

import aiohttp
import discord
import pytest

from tests.fake_discord import FakeDiscord


@pytest.fixture
async def fake():
    server = await FakeDiscord(ack_window=0.3, token_lifetime=1.0).start()
    # A minimal stand-in session so the fake can dispatch without a bot connected.
    from tests.fake_discord.server import Session

    server.current_session = Session("s", intents=0)
    server.global_commands = server._echo_commands([{"name": "digit", "description": "d"}], None)
    yield server
    await server.stop()


async def call(method, url, **kwargs):
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, **kwargs) as response:
            return response.status, await response.json(content_type=None), response.headers


async def test_acknowledgement_rules(fake):
    record = await fake.run_slash("alice", "digit")
    url = f"{fake.api_base}/interactions/{record.id}/{record.token}/callback?with_response=1"
    status, body, headers = await call("POST", url, json={"type": 5})
    assert status == 200 and body["resource"]["type"] == 5
    assert headers["Content-Type"] == "application/json"
    status, body, _ = await call("POST", url, json={"type": 5})
    assert (status, body["code"]) == (400, 40060)  # one acknowledgement per interaction

    late = await fake.run_slash("alice", "digit")
    await asyncio.sleep(0.35)
    status, body, _ = await call("POST", f"{fake.api_base}/interactions/{late.id}/{late.token}/callback",
                                 json={"type": 5})
    assert (status, body["code"]) == (404, 10062)  # past the acknowledgement window


async def test_message_rules_and_token_expiry(fake):
    record = await fake.run_slash("alice", "digit")
    await call("POST", f"{fake.api_base}/interactions/{record.id}/{record.token}/callback", json={"type": 5})
    followup = f"{fake.api_base}/webhooks/{fake.app_id}/{record.token}?wait=1"
    status, body, _ = await call("POST", followup, json={"content": "x" * 2001})
    assert (status, body["code"]) == (400, 50035)
    status, body, _ = await call("POST", followup, json={"embeds": [{"description": "x" * 4097}]})
    assert (status, body["code"]) == (400, 50035)
    form = aiohttp.FormData()
    form.add_field("payload_json", json.dumps({"content": "big"}))
    form.add_field("files[0]", b"\0" * (fake.attachment_size_limit + 1), filename="big.bin")
    status, body, _ = await call("POST", followup, data=form)
    assert (status, body["code"]) == (413, 40005)
    status, body, _ = await call("POST", followup, json={"content": "fine"})
    assert status == 200 and record.replied.is_set()
    await asyncio.sleep(1.05)
    status, body, _ = await call("POST", followup, json={"content": "too late"})
    assert (status, body["code"]) == (401, 50027)  # the interaction token expired
    assert [e["code"] for e in fake.errors] == [50035, 50035, 40005, 50027]


async def test_rest_needs_the_token_and_429s_carry_via(fake):
    status, _, _ = await call("GET", f"{fake.api_base}/users/@me", headers={"Authorization": "Bot wrong"})
    assert status == 401
    fake.inject_429("GET", r"/users/@me", retry_after=0.5)
    status, body, headers = await call("GET", f"{fake.api_base}/users/@me",
                                       headers={"Authorization": f"Bot {fake.token}"})
    assert status == 429 and body["retry_after"] == 0.5 and headers["Via"]
    status, body, _ = await call("GET", f"{fake.api_base}/users/@me", headers={"Authorization": f"Bot {fake.token}"})
    assert status == 200 and body["bot"] is True


# ----- a plain discord.py client against the fake ------------------------------------------
async def eventually(condition, timeout: float = 5.0):
    """Gateway frames and REST answers travel separately: wait for the client to catch up."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the client never caught up"
        await asyncio.sleep(0.01)


@pytest.fixture
async def connect(point_discord_at):
    """connect(**fake_options) -> (fake, client): discord.py's Client, its messages in client.seen."""
    started = []

    async def start(**options):
        server = await FakeDiscord(heartbeat_interval_ms=500, **options).start()
        point_discord_at(server)
        intents = discord.Intents.default()
        intents.message_content = True
        client = discord.Client(intents=intents, guild_ready_timeout=0.05)
        client.seen, client.new_threads = asyncio.Queue(), []

        @client.event
        async def on_message(message):
            await client.seen.put(message)

        @client.event
        async def on_thread_create(thread):
            client.new_threads.append(thread)

        task = asyncio.create_task(client.start(server.token))
        started.append((server, client, task))
        await eventually(lambda: client.is_ready() or task.done(), 20)
        assert client.is_ready(), task
        return server, client

    yield start
    for server, client, task in started:
        await client.close()
        await asyncio.wait_for(task, 10)
        await server.stop()


async def said_in_general(fake, client, text="hi bot"):
    await fake.user_says("bob", text)
    return await asyncio.wait_for(client.seen.get(), 5)


async def test_bot_messages_can_be_edited_and_each_edit_is_recorded(connect):
    fake, client = await connect()
    message = await said_in_general(fake, client)
    sent = await message.channel.send("thinking")
    edited = await sent.edit(content="thinking harder")
    edited = await edited.edit(embed=discord.Embed(description="an answer"))
    assert edited.edited_at is not None and edited.content == "thinking harder"
    [recorded] = fake.bot_messages_in(fake.channel_id)
    assert recorded.content == "thinking harder" and recorded.embeds[0]["description"] == "an answer"
    assert [content for _, content in recorded.edits] == ["thinking harder", "thinking harder"]

    with pytest.raises(discord.HTTPException) as too_long:
        await sent.edit(content="x" * 2001)
    assert too_long.value.code == 50035  # the sending rules hold for edits
    with pytest.raises(discord.NotFound) as unknown:
        await message.channel.get_partial_message(1234).edit(content="no such message")
    assert unknown.value.code == 10008
    with pytest.raises(discord.Forbidden) as not_ours:
        await message.channel.get_partial_message(message.id).edit(content="bob's words")
    assert not_ours.value.code == 50005
    assert len(recorded.edits) == 2


async def test_typing_is_recorded(connect):
    fake, client = await connect()
    message = await said_in_general(fake, client)
    before = asyncio.get_running_loop().time()
    async with message.channel.typing():
        pass
    [(channel_id, when)] = fake.typing
    assert channel_id == fake.channel_id and when >= before
    with pytest.raises(discord.Forbidden):
        await client.get_channel(int(fake.readonly_channel_id)).typing()


async def test_threads_start_from_messages_and_carry_messages(connect):
    fake, client = await connect()
    message = await said_in_general(fake, client, f"<@{fake.app_id}> let's chat")
    general = client.get_channel(int(fake.channel_id))
    assert general.permissions_for(general.guild.me).create_public_threads
    thread = await message.create_thread(name="chat with bob", auto_archive_duration=60)
    assert thread.id == message.id and thread.parent_id == general.id and thread.owner_id == client.user.id
    await eventually(lambda: isinstance(client.get_channel(thread.id), discord.Thread))
    assert [t.id for t in client.new_threads] == [thread.id]  # THREAD_CREATE with newly_created
    assert fake.threads[str(thread.id)]["thread_metadata"]["auto_archive_duration"] == 60

    reply = await client.get_channel(thread.id).send("hello bob")
    await reply.edit(content="hello again, bob")
    [recorded] = fake.bot_messages_in(str(thread.id))
    assert recorded.payload["guild_id"] == fake.guild_id and recorded.content == "hello again, bob"
    assert fake.bot_messages_in(fake.channel_id) == []

    said = await fake.user_says("bob", f"<@{fake.app_id}> how are you?", channel_id=str(thread.id),
                                mention_bot=True)
    heard = await asyncio.wait_for(client.seen.get(), 5)
    assert heard.id == int(said["id"]) and isinstance(heard.channel, discord.Thread)
    assert heard.channel.id == thread.id and client.user in heard.mentions
    assert fake.threads[str(thread.id)]["message_count"] == 2

    with pytest.raises(discord.HTTPException) as again:
        await message.create_thread(name="a second thread")
    assert again.value.code == 160004


async def test_threads_can_be_refused(connect):
    fake, client = await connect(allow_threads=False)
    message = await said_in_general(fake, client)
    general = client.get_channel(int(fake.channel_id))
    assert not general.permissions_for(general.guild.me).create_public_threads
    with pytest.raises(discord.Forbidden) as refused:
        await message.create_thread(name="chat")
    assert refused.value.code == 50013 and fake.threads == {}


async def test_dms_reach_the_client_and_it_can_answer(connect):
    fake, client = await connect()
    await fake.user_says("alice", "hello in private", dm=True)
    heard = await asyncio.wait_for(client.seen.get(), 5)
    assert heard.guild is None and isinstance(heard.channel, discord.DMChannel)
    assert heard.content == "hello in private"
    await heard.channel.typing()
    await heard.reply("hello alice")
    dm_id = fake.dm_channels[fake.users["alice"]["id"]]["id"]
    assert [m.content for m in fake.bot_messages_in(dm_id)] == ["hello alice"]
    assert fake.typing[0][0] == dm_id


async def test_wait_until_wakes_on_edits(fake):
    sent = fake._store_sent({"content": "a"}, [], fake.channel_id, fake.guild_id)
    fake.channel_messages.append(sent)
    url = f"{fake.api_base}/channels/{fake.channel_id}/messages/{sent.payload['id']}"
    auth = {"Authorization": f"Bot {fake.token}"}
    waiting = asyncio.create_task(fake.wait_until(lambda: sent.content == "b" and sent, timeout=5))
    await asyncio.sleep(0.05)
    status, body, _ = await call("PATCH", url, json={"content": "b"}, headers=auth)
    assert status == 200 and body["content"] == "b" and (await waiting) is sent
    status, body, _ = await call("PATCH", url, json={"content": None}, headers=auth)
    assert (status, body["code"]) == (400, 50006)  # an edit may not empty a message


# ----- components, user installs and the injected clock --------------------------------------
BOT = {"Authorization": "Bot fake-token.for-tests.only"}


def button(label: str, custom_id: str, **extra) -> dict:
    return {"type": 2, "style": 2, "label": label, "custom_id": custom_id, **extra}


def row(*buttons: dict) -> dict:
    return {"type": 1, "components": list(buttons)}


@pytest.fixture
async def clocked():
    """A fake on an injected clock, with no bot: tests answer its interactions over HTTP."""
    from tests.fake_discord import FakeClock
    from tests.fake_discord.server import Session

    server = await FakeDiscord(clock=FakeClock()).start()
    server.current_session = Session("s", intents=0)
    server.global_commands = server._echo_commands(
        [{"name": "digit", "description": "d"},
         {"name": "Check tone", "type": 3, "integration_types": [0, 1], "contexts": [0, 1, 2]}], None)
    yield server
    await server.stop()


async def post_with_buttons(fake, components: list[dict]):
    status, body, _ = await call("POST", f"{fake.api_base}/channels/{fake.channel_id}/messages", headers=BOT,
                                 json={"content": "pick one", "components": components})
    return status, body


async def test_messages_carry_buttons_within_discords_limits(clocked):
    fake = clocked
    status, body = await post_with_buttons(fake, [row(button("Yes", "a"), button("No", "b"))])
    assert status == 200 and body["components"][0]["components"][1]["custom_id"] == "b"
    assert fake.buttons(fake.channel_messages[0]) == body["components"][0]["components"]
    for bad in ([row(button("x", "c" * 101))], [row(button("x", "same"), button("y", "same"))],
                [row(*[button(str(i), str(i)) for i in range(6)])], [row(button("x", "d")) for _ in range(6)],
                [row(button("", "e"))], [row({**button("x", "f"), "style": 9})]):
        status, body = await post_with_buttons(fake, bad)
        assert (status, body["code"]) == (400, 50035), bad
    assert len(fake.channel_messages) == 1


async def test_a_click_is_a_component_interaction_answered_by_updating_the_message(clocked):
    fake = clocked
    await post_with_buttons(fake, [row(button("Yes", "vote:yes"), button("Off", "vote:off", disabled=True))])
    message = fake.channel_messages[0]
    with pytest.raises(LookupError):
        await fake.click_button("bob", message, "Off")  # a disabled button cannot be clicked
    with pytest.raises(LookupError):
        await fake.click_button("bob", message, "Maybe")
    record = await fake.click_button("bob", message, "Yes")
    frame = fake.current_session.sent[-1]
    assert frame["t"] == "INTERACTION_CREATE" and frame["d"]["type"] == 3
    assert frame["d"]["data"] == {"custom_id": "vote:yes", "component_type": 2}
    assert frame["d"]["message"]["id"] == message.payload["id"] and frame["d"]["member"]["user"]["username"] == "bob"
    assert frame["d"]["authorizing_integration_owners"] == {"0": fake.guild_id} and frame["d"]["context"] == 0

    callback = f"{fake.api_base}/interactions/{record.id}/{record.token}/callback"
    status, body, _ = await call("POST", callback, json={"type": 7, "data": {"content": "counted", "components": []}})
    assert status == 200 and record.ack_type == 7 and record.replied.is_set()
    assert message.content == "counted" and fake.buttons(message) == [] and record.original is message
    assert fake.channel_messages == [message]  # updated in place, no new message

    await post_with_buttons(fake, [row(button("Later", "later"))])
    later = fake.channel_messages[1]
    record = await fake.click_button("alice", later, "Later")
    status, _, _ = await call("POST", f"{fake.api_base}/interactions/{record.id}/{record.token}/callback",
                              json={"type": 6})
    assert status == 200 and record.ack_type == 6 and later.content == "pick one"  # deferred: nothing yet
    status, _, _ = await call("PATCH", f"{fake.api_base}/webhooks/{fake.app_id}/{record.token}/messages/@original",
                              json={"content": "done later"})
    assert status == 200 and later.content == "done later" and len(later.edits) == 1


async def test_update_responses_are_only_for_component_interactions(clocked):
    fake = clocked
    record = await fake.run_slash("alice", "digit")
    status, body, _ = await call("POST", f"{fake.api_base}/interactions/{record.id}/{record.token}/callback",
                                 json={"type": 7, "data": {"content": "no message to update"}})
    assert (status, body["code"]) == (400, 50035) and record.acknowledged_at is None


async def test_an_ephemeral_message_is_clicked_only_by_whom_it_was_shown(clocked):
    fake = clocked
    record = await fake.run_slash("bob", "digit")
    callback = f"{fake.api_base}/interactions/{record.id}/{record.token}/callback"
    await call("POST", callback, json={"type": 4, "data": {"content": "for bob", "flags": 64,
                                                             "components": [row(button("Mine", "m"))]}})
    assert record.original.ephemeral
    with pytest.raises(LookupError):
        await fake.click_button("alice", record.original, "Mine")
    click = await fake.click_button("bob", record.original, "Mine")
    assert click.payload["member"]["user"]["username"] == "bob" and click.payload["message"]["flags"] == 64


async def test_context_menus_from_a_user_install_follow_integration_types(clocked):
    fake = clocked
    target = {"id": "1", "channel_id": fake.foreign_channel_id, "content": "hm", "author": fake.users["alice"]}
    record = await fake.run_context_menu("bob", "Check tone", target, user_install=True)
    assert record.payload["guild_id"] == fake.foreign_guild_id and record.payload["context"] == 0
    assert record.payload["authorizing_integration_owners"] == {"1": fake.users["bob"]["id"]}
    group = await fake.run_context_menu("bob", "Check tone", target, group_dm=True)
    assert group.payload["context"] == 2 and "guild_id" not in group.payload
    fake.global_commands = fake._echo_commands([{"name": "Check tone", "type": 3}], None)  # guild installs only
    with pytest.raises(LookupError):
        await fake.run_context_menu("bob", "Check tone", target, user_install=True)


async def test_tokens_expire_after_15_minutes_of_the_injected_clock(clocked):
    fake = clocked
    record = await fake.run_slash("alice", "digit")
    await call("POST", f"{fake.api_base}/interactions/{record.id}/{record.token}/callback", json={"type": 5})
    followup = f"{fake.api_base}/webhooks/{fake.app_id}/{record.token}?wait=1"
    fake.clock.advance(14 * 60)
    status, _, _ = await call("POST", followup, json={"content": "in time"})
    assert status == 200
    fake.clock.advance(61)
    status, body, _ = await call("POST", followup, json={"content": "too late"})
    assert (status, body["code"]) == (401, 50027)
    late = await fake.run_slash("alice", "digit")
    fake.clock.advance(3.1)  # the acknowledgement window is read from the same clock
    status, body, _ = await call("POST", f"{fake.api_base}/interactions/{late.id}/{late.token}/callback",
                                 json={"type": 5})
    assert (status, body["code"]) == (404, 10062)


async def test_the_hand_driver_clicks_a_shown_button(clocked, capsys):
    from tests.fake_discord import __main__ as driver

    fake = clocked
    await post_with_buttons(fake, [row(button("Again", "again"))])
    await driver._show(fake, fake.channel_messages[0])
    clicking = asyncio.create_task(driver._click(fake, "bob", "Again"))
    await eventually(lambda: any(r.clicked for r in fake.interactions.values()))
    record = next(r for r in fake.interactions.values() if r.clicked)
    await call("POST", f"{fake.api_base}/interactions/{record.id}/{record.token}/callback",
               json={"type": 7, "data": {"content": "again, then", "components": []}})
    await clicking
    assert capsys.readouterr().out.splitlines() == ["pick one", "  buttons: [Again]", "again, then"]

"""The fake Discord enforces Discord's rules with Discord's error codes, so bot bugs show up."""
import asyncio
import json

import aiohttp
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

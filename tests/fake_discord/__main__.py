"""Run the fake Discord by hand and drive a locally started bot from this terminal.

    python -m tests.fake_discord [--port 8080]

It prints the variables to start `mlbot run` with, then reads lines like:
    slash alice digit path/to/photo.png     (a user runs /digit with that file)
    slash alice about
    say bob !digit path/to/photo.png        (a user types a message with that file)
    dm bob digit path/to/photo.png          (the same, in a DM)
    click bob Regenerate                    (a user clicks that button on the latest message showing it)
    drop                                    (the gateway asks the bot to reconnect)
    servers                                 (the servers, each with its shard)
With --shards N --servers M it recommends N shards (GET /gateway/bot), holds M servers spread
over them, and spaces identifies 5 s per bucket as Discord does; `slash@K alice status` runs
the command in server K (0-based, as `servers` lists them).
"""
from __future__ import annotations

import argparse
import asyncio
import mimetypes
import shlex
import sys
from pathlib import Path

from tests.fake_discord.server import FakeDiscord


def _file(path: str):
    data = Path(path).read_bytes()
    return Path(path).name, data, mimetypes.guess_type(path)[0]


SHOWN: list = []  # messages printed so far, newest last: `click` looks for its button among them


async def _show(fake: FakeDiscord, message) -> None:
    print(("(only you can see this) " if message.ephemeral else "") + message.text)
    for name, data in message.files:
        print(f"  [file {name}, {len(data)} bytes]")
    buttons = [b.get("label") or "?" for b in fake.buttons(message)]
    if buttons:
        print("  buttons: " + " | ".join(f"[{label}]" for label in buttons))
    SHOWN.append(message)


async def _click(fake: FakeDiscord, user: str, label: str) -> None:
    message = next((m for m in reversed(SHOWN) if any(b.get("label") == label for b in fake.buttons(m))), None)
    if message is None:
        print(f"no message shown here has a button {label!r}")
        return
    record = await fake.click_button(user, message, label)
    await fake.wait_until(lambda: record.acknowledged_at is not None and (record.ack_type != 5 or record.replies),
                          120, "the bot did not answer the click")
    await _show(fake, message if record.ack_type in (6, 7) else await fake.wait_for_reply(record, timeout=120))


async def main_async(port: int, shards: int = 1, servers: int = 1) -> None:
    fake = await FakeDiscord(port=port, shards=shards, identify_window=5.0 if shards > 1 else 0.0).start()
    for index in range(1, servers):
        fake.add_guild(shard=index % shards, shard_count=shards)
    guild_ids = list(fake.all_guilds())
    print(f"export DISCORD_TOKEN={fake.token}")
    print(f"export MLBOT_DISCORD_API_BASE={fake.api_base}")
    print(f"export MLBOT_DISCORD_GATEWAY_URL={fake.gateway_url}")
    print("then start `mlbot run` in another terminal; type commands here (see --help)", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        words = shlex.split(line)
        if not words:
            continue
        try:
            if words[0] == "drop":
                await fake.drop_gateway()
            elif words[0] == "servers":
                for index, guild_id in enumerate(guild_ids):
                    print(f"{index}: {guild_id} (shard {(int(guild_id) >> 22) % shards} of {shards})")
            elif words[0].startswith("slash"):
                server = int(words[0].partition("@")[2] or 0)
                user, name, *rest = words[1:]
                files = {"image": _file(rest[0])} if rest and Path(rest[0]).exists() else None
                record = await fake.run_slash(user, name, files=files, guild_id=guild_ids[server])
                await _show(fake, await fake.wait_for_reply(record, timeout=120))
            elif words[0] == "click":
                await _click(fake, words[1], " ".join(words[2:]))
            elif words[0] in ("say", "dm"):
                user, *rest = words[1:]
                paths = [w for w in rest if Path(w).exists()]
                text = " ".join(w for w in rest if w not in paths)
                before = len(fake.channel_messages)
                await fake.user_says(user, text, dm=words[0] == "dm", files=[_file(p) for p in paths])
                await _show(fake, await fake.wait_for_channel_message(timeout=120, after=before))
            else:
                print("unknown; try: slash USER COMMAND [FILE] | say USER TEXT [FILE] | dm USER TEXT [FILE] | "
                      "click USER LABEL | drop")
        except Exception as exc:  # a driver typo must not stop the server
            print(f"error: {exc!r}")
    await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    parser.add_argument("--shards", type=int, default=1, help="shards GET /gateway/bot recommends (default 1)")
    parser.add_argument("--servers", type=int, default=1, help="servers the bot is in (default 1)")
    args = parser.parse_args()
    asyncio.run(main_async(args.port, args.shards, args.servers))


if __name__ == "__main__":
    main()

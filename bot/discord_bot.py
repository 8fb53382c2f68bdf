"""The Discord adapter: slash commands built from the shared command registry.

Every interaction is deferred at once (Discord drops it after 3 s) and answered by a
followup. Endpoints can be pointed at another server (a fake or a proxy) with
MLBOT_DISCORD_API_BASE and MLBOT_DISCORD_GATEWAY_URL.
"""
from __future__ import annotations

import asyncio
import inspect
import io
import logging
import os
import signal
from typing import Any

import discord
import yarl
from discord import app_commands

from bot.app import App
from bot.commands import REGISTRY, Command, CommandContext, InputFile, OptionKind, run_command
from bot.reply import Reply

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000
EMBED_DESCRIPTION_LIMIT = 4096

_ANNOTATIONS = {OptionKind.TEXT: str, OptionKind.INTEGER: int, OptionKind.ATTACHMENT: discord.Attachment}


def point_at_endpoints() -> None:
    """discord.py has no option for other endpoints; its class attributes are the hook."""
    api = os.environ.get("MLBOT_DISCORD_API_BASE")
    gateway = os.environ.get("MLBOT_DISCORD_GATEWAY_URL")
    if api:
        discord.http.Route.BASE = api.rstrip("/")
    if gateway:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)


def _attachment_input(attachment: discord.Attachment) -> InputFile:
    async def read() -> bytes:
        # Only the URL Discord gave for this attachment is fetched, with a time limit.
        return await asyncio.wait_for(attachment.read(), timeout=30)

    return InputFile(filename=attachment.filename, size=attachment.size, reader=read)


def reply_to_message_kwargs(reply: Reply) -> dict[str, Any]:
    files = [discord.File(io.BytesIO(f.data), filename=f.filename, description=f.description or None)
             for f in reply.files]
    if reply.is_error:
        return {"content": reply.text[:MESSAGE_LIMIT], "files": files}
    description = reply.text
    if len(description) > EMBED_DESCRIPTION_LIMIT:
        files.append(discord.File(io.BytesIO(description.encode()), filename="reply.txt"))
        description = description[: EMBED_DESCRIPTION_LIMIT - 40] + "\n...(whole text in reply.txt)"
    embed = discord.Embed(title=reply.title, description=description or None)
    for name, value in reply.fields[:25]:
        embed.add_field(name=name[:256], value=value[:1024] or "-", inline=False)
    images = [f for f in reply.files if f.filename.endswith(".png")]
    if images:
        embed.set_image(url=f"attachment://{images[0].filename}")
    return {"embed": embed, "files": files}


class MlBotClient(discord.Client):
    def __init__(self, app: App, intents: discord.Intents):
        super().__init__(intents=intents)
        self.app = app
        self.tree = app_commands.CommandTree(self)
        for cmd in REGISTRY.values():
            if "discord" in cmd.adapters:
                self.tree.add_command(slash_command(app, cmd))

    async def setup_hook(self) -> None:
        synced = await self.tree.sync()
        log.info("synced %d slash commands", len(synced))

    async def on_ready(self) -> None:
        log.info("connected to Discord as %s in %d server(s)", self.user, len(self.guilds))


def slash_command(app: App, cmd: Command) -> app_commands.Command:
    ephemeral_only = cmd.name in ("help", "status", "forget")

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        await interaction.response.defer(thinking=True, ephemeral=ephemeral_only)
        arguments = {
            name: _attachment_input(value) if isinstance(value, discord.Attachment) else value
            for name, value in values.items()
        }
        ctx = CommandContext(app, "discord", str(interaction.user.id),
                             str(interaction.guild_id) if interaction.guild_id else None)
        reply = await run_command(cmd.name, ctx, **arguments)
        if reply.ephemeral and not ephemeral_only:
            # The deferral was public; replace it so only the asker sees the answer.
            await interaction.delete_original_response()
        await interaction.followup.send(ephemeral=reply.ephemeral, **reply_to_message_kwargs(reply))

    parameters = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                    annotation=discord.Interaction)]
    for option in cmd.options:
        annotation: Any = _ANNOTATIONS[option.kind]
        if option.kind is OptionKind.INTEGER and (option.min_value is not None or option.max_value is not None):
            annotation = app_commands.Range[int, option.min_value, option.max_value]
        default = inspect.Parameter.empty if option.required else None
        parameters.append(inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY,
                                            annotation=annotation if option.required else annotation | None,
                                            default=default))
    callback.__signature__ = inspect.Signature(parameters)  # discord.py reads options from the signature
    callback.__discord_app_commands_param_description__ = {o.name: o.description[:100] for o in cmd.options}
    return app_commands.Command(name=cmd.name, description=cmd.description[:100], callback=callback)


async def run_discord(app: App, start, token: str) -> int:
    point_at_endpoints()
    intents = discord.Intents.default()
    await start()
    client = MlBotClient(app, intents)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = asyncio.create_task(client.start(token))
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner in done and runner.exception():
            exc = runner.exception()
            if isinstance(exc, discord.LoginFailure):
                log.error("Discord refused the token (login failed)")
                print("mlbot: Discord refused the token (check DISCORD_TOKEN)")
                return 2
            raise exc
        return 0
    finally:
        await client.close()
        stopper.cancel()
        await app.close()

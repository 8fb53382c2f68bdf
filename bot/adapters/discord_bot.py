"""The Discord adapter: slash commands and prefix commands built from the shared registry.

* Every interaction is deferred at once (Discord drops it after 3 s) and answered with
  followups; model work runs off the loop, so acknowledgements never wait behind it.
* Prefix commands (`!digit` with an attached image) need the privileged Message Content
  intent; when Discord refuses it, the bot reconnects without it and runs slash-only.
  Mentioning the bot (`@mlbot digit`) and DMs work without the intent.
* Commands are synced at start only when their payload changed (hash kept in SQLite).
* MLBOT_DISCORD_API_BASE / MLBOT_DISCORD_GATEWAY_URL point the client at another endpoint.
* With a ShardPlan the client is an AutoShardedClient holding those shards: it answers the
  servers on them, posts only their daily tracks, and takes identify turns from the shared
  database so several processes never identify too fast for Discord.
"""
from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import os
import signal
import time
from typing import Any, Awaitable, Callable

import discord
import yarl
from discord import app_commands

from bot.adapters.discord_buttons import ITEMS as BUTTON_ITEMS, buttons_for
from bot.adapters.health import HealthServer, metrics_port
from bot.app import App
from bot.commands import GROUP_DESCRIPTIONS, REGISTRY, Command, CommandContext, InputFile, OptionKind, run_command
from bot.commands.parsing import bind_arguments, resolve_command_name, typed_words
from bot.services.daily_track import ChannelUnavailable, DailyTrackScheduler, utc_now
from bot.services.retention import RetentionSweeper
from bot.adapters.discord_render import DEFAULT_FILE_LIMIT, render
from bot.reply import Reply
from bot.shards import ShardPlan, identify_spacing
from bot.commands.config import watch_key
from ml.errors import InputError, UserFacingError
from storage.db import DatabaseError
from storage.identify import IdentifyTurns
from storage.tone_watch import record_watch

log = logging.getLogger(__name__)

ATTACHMENT_TIMEOUT = 30.0
SHUTDOWN_GRACE = 30.0
WATCH_EMOJI = "\N{GRIMACING FACE}"
RETRY_SLASH_ONLY = object()  # DiscordRunner: reconnect without the Message Content intent
_ANNOTATIONS = {OptionKind.TEXT: str, OptionKind.INTEGER: int, OptionKind.NUMBER: float,
                OptionKind.ATTACHMENT: discord.Attachment, OptionKind.CHANNEL: app_commands.AppCommandChannel}


def point_at_endpoints(api_base: str | None = None, gateway_url: str | None = None) -> None:
    """discord.py has no option for other endpoints; these class attributes are the hook."""
    api_base = api_base or os.environ.get("MLBOT_DISCORD_API_BASE")
    gateway_url = gateway_url or os.environ.get("MLBOT_DISCORD_GATEWAY_URL")
    if api_base:
        discord.http.Route.BASE = api_base.rstrip("/")
        log.info("Discord REST endpoint: %s", discord.http.Route.BASE)
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
        log.info("Discord gateway endpoint: %s", gateway_url)


def guild_ids_from_env() -> list[int]:
    raw = os.environ.get("DISCORD_GUILD_IDS", "")
    return [int(part) for part in raw.replace(";", ",").split(",") if part.strip().isdigit()]


def attachment_input(attachment: discord.Attachment) -> InputFile:
    async def read() -> bytes:
        # Only the URL Discord gave for this attachment is fetched, with a time limit.
        try:
            return await asyncio.wait_for(attachment.read(), timeout=ATTACHMENT_TIMEOUT)
        except asyncio.TimeoutError:
            raise InputError(f"downloading {attachment.filename} took over {ATTACHMENT_TIMEOUT:.0f} s") from None
        except discord.HTTPException as exc:
            raise InputError(f"could not download {attachment.filename} from Discord ({exc.status})") from exc

    return InputFile(filename=attachment.filename, size=attachment.size, reader=read)


class MlBotClient(discord.Client):
    def __init__(self, app: App, intents: discord.Intents, guild_ids: list[int] | None = None,
                 schedule_clock: Callable[[], Any] | None = None, schedule_interval: float = 30.0,
                 shards: ShardPlan | None = None, **options: Any):
        # mlbot does no voice: skip discord.py's warnings about voice libraries.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        if shards is not None:
            options.update(shard_count=shards.count, shard_ids=list(shards.ids))
        super().__init__(intents=intents, **options)
        self.app = app
        self.shard_plan = shards
        self.guild_ids = guild_ids or []
        self.tree = app_commands.CommandTree(self)
        self.tree.on_error = self._on_tree_error
        for command in build_slash_commands(self, REGISTRY.values()):
            self.tree.add_command(command)
        self.tree.add_command(tone_context_menu(self))
        self.inflight: set[asyncio.Task] = set()
        self.stopping = False
        self.schedule_stop = asyncio.Event()
        self.scheduler_task: asyncio.Task | None = None
        # Tests give the daily-track scheduler their own clock and a short interval.
        self.scheduler = DailyTrackScheduler(app, self.post_to_channel, clock=schedule_clock or utc_now,
                                             interval=schedule_interval, shards=shards)
        self.retention = RetentionSweeper(app)
        self.retention_task: asyncio.Task | None = None

    # ----- start-up --------------------------------------------------------------------
    async def setup_hook(self) -> None:
        if not self.intents.message_content:
            log.warning("running without the Message Content intent: slash commands only "
                        "(prefix commands work in DMs and when the bot is mentioned)")
        # Buttons carry their state in their custom_ids: registering the classes makes those
        # of answers sent before this start work again.
        self.add_dynamic_items(*BUTTON_ITEMS)
        await self.sync_commands_if_changed()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        if self.shard_plan is None or not self.app.db.shared:
            return await super().before_identify_hook(shard_id, initial=initial)
        bucket = (shard_id or 0) % max(1, self.shard_plan.max_concurrency)
        waited = await IdentifyTurns(self.app.db, identify_spacing()).wait_turn(bucket)
        log.info("shard %s: identifying (waited %.1f s for bucket %d)", shard_id, waited, bucket)

    async def sync_commands_if_changed(self) -> int:
        """Sync only when the command payload differs from the last sync; returns syncs made."""
        scopes = [discord.Object(gid) for gid in self.guild_ids] or [None]
        syncs = 0
        for guild in scopes:
            if guild is not None:
                self.tree.copy_global_to(guild=guild)
            payload = [c.to_dict(self.tree) for c in self.tree.get_commands(guild=guild)]
            digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
            key = f"command-sync:{self.application_id}:{guild.id if guild else 'global'}"
            if await self.app.state.get(key) == digest:
                log.info("slash commands unchanged (%s): not syncing", guild.id if guild else "global")
                continue
            synced = await self.tree.sync(guild=guild)
            await self.app.state.set(key, digest)
            syncs += 1
            log.info("synced %d slash commands (%s)", len(synced), guild.id if guild else "global")
        return syncs

    async def on_connect(self) -> None:
        log.info("gateway connected as %s", self.user)

    async def on_ready(self) -> None:
        log.info("connected to Discord as %s (id %s) in %d server(s)", self.user, self.user.id, len(self.guilds))
        if self.scheduler_task is None:  # on_ready fires again after reconnects
            self.scheduler_task = asyncio.create_task(self.scheduler.run(self.schedule_stop))
        if self.retention_task is None:
            self.retention_task = asyncio.create_task(self.retention.run(self.schedule_stop))

    def is_bot_owner(self, user: discord.abc.User) -> bool:
        """The application's owner (or a member of its team) runs the bot: bot-wide switches are theirs."""
        application = self.application
        if application is None:
            return False
        if application.team is not None:
            return any(member.id == user.id for member in application.team.members)
        return application.owner is not None and application.owner.id == user.id

    # ----- posting on its own (the daily track) ----------------------------------------
    async def channel_problem(self, channel_id: str, guild_id: str | None = None) -> str | None:
        """Why the bot cannot post files in a channel (of server `guild_id`, when given), or None if it can."""
        channel = self.get_channel(int(channel_id))
        if channel is None or not hasattr(channel, "send") or getattr(channel, "guild", None) is None \
                or (guild_id is not None and str(channel.guild.id) != guild_id):
            return "I cannot see that channel: pick a text channel in this server that I can read"
        permissions = channel.permissions_for(channel.guild.me)
        missing = [name for name, ok in (("View Channel", permissions.view_channel),
                                         ("Send Messages", permissions.send_messages),
                                         ("Attach Files", permissions.attach_files)) if not ok]
        if missing:
            return f"I cannot post in #{channel.name}: give me {', '.join(missing)} there, or pick another channel"
        return None

    async def post_to_channel(self, channel_id: str, reply: Reply) -> str:
        """Post a reply in a channel; returns the first message's id."""
        channel = self.get_channel(int(channel_id))
        problem = await self.channel_problem(channel_id)
        if problem:
            raise ChannelUnavailable(problem)
        first = None
        try:
            for message in render(reply, DEFAULT_FILE_LIMIT).messages:
                sent = await channel.send(**{k: v for k, v in message.items() if v or k == "content"})
                first = first or sent
        except (discord.Forbidden, discord.NotFound) as exc:
            if first is None:  # nothing went out: a clear failure, not an unknown one
                raise ChannelUnavailable(f"Discord refused the post: {exc.status} {exc.text}") from exc
            raise
        return str(first.id)

    async def on_resumed(self) -> None:
        log.info("gateway session resumed")

    # ----- slash commands --------------------------------------------------------------
    async def handle_interaction(self, cmd: Command, interaction: discord.Interaction, values: dict) -> None:
        arguments = {name: _option_value(v) for name, v in values.items() if v is not None}

        async def given(ctx: CommandContext) -> dict[str, Any]:
            return arguments
        await self.answer_interaction(cmd, interaction, given)

    async def answer_interaction(self, cmd: Command, interaction: discord.Interaction,
                                 arguments_of: Callable[[CommandContext], Awaitable[dict[str, Any]]], *,
                                 place: str | None = None, variant: int = 0,
                                 on_reply: Callable[[Reply], Awaitable[None]] | None = None) -> None:
        """Run a command for a slash command or a button (Regenerate): defer at once, then
        gather the arguments (a button may look them up, and set who speaks), run, answer with
        its buttons. A friend's Regenerate names its conversation's `place` and asks for
        another `variant`; `on_reply` sees the reply first."""
        task = asyncio.current_task()
        self.inflight.add(task)
        try:
            if self.stopping:
                await interaction.response.send_message("mlbot is restarting; try again in a minute.", ephemeral=True)
                return
            # A button under an answer only the asker sees answers the same way.
            shown_privately = interaction.message is not None and interaction.message.flags.ephemeral
            private = cmd.ephemeral or answers_privately(interaction) or shown_privately
            await interaction.response.defer(thinking=True, ephemeral=private)
            permissions = interaction.permissions
            progress = ProgressMessage(interaction)
            ctx = CommandContext(self.app, "discord", str(interaction.user.id),
                                 str(interaction.guild_id) if interaction.guild_id else None,
                                 can_manage_server=bool(interaction.guild_id and permissions.manage_guild),
                                 channel_id=place or (str(interaction.channel_id) if interaction.channel_id else None),
                                 parent_channel_id=_parent_id(interaction.channel),
                                 bot_owner=self.is_bot_owner(interaction.user),
                                 progress=progress.update, channel_problem=self.channel_problem, variant=variant)
            try:
                arguments = await arguments_of(ctx)
            except (UserFacingError, DatabaseError) as exc:  # e.g. what a button named is no longer stored
                reply = Reply.error(str(exc))
            else:
                reply = await run_command(cmd.name, ctx, **arguments)
            progress.finished = True
            if on_reply is not None:
                await on_reply(reply)
            reply.ephemeral = reply.ephemeral or private
            view = buttons_for(self.app, cmd.name, reply, str(interaction.user.id), ctx.channel_id or ctx.user_id)
            if interaction.is_expired():
                await self.post_late_reply(interaction, cmd.name, reply, view)
                return
            try:
                await self.send_interaction_reply(interaction, reply, deferred_ephemeral=private, view=view)
            except discord.HTTPException as exc:
                if not token_expired(exc):
                    raise
                await self.post_late_reply(interaction, cmd.name, reply, view)
                return
            if progress.shown:  # the answer came as a new message; the progress line has done its job
                await interaction.delete_original_response()
        except discord.HTTPException as exc:
            log.warning("could not answer /%s: %s %s", cmd.name, exc.status, exc.text)
        finally:
            self.inflight.discard(task)

    async def send_interaction_reply(self, interaction: discord.Interaction, reply: Reply,
                                     deferred_ephemeral: bool, view: discord.ui.View | None = None) -> None:
        limit = getattr(interaction, "filesize_limit", None) or DEFAULT_FILE_LIMIT
        outgoing = render(reply, limit)
        if reply.ephemeral and not deferred_ephemeral:
            # The deferral was public; replace it so only the asker sees the answer.
            await interaction.delete_original_response()
        for message in with_buttons(outgoing.messages, view):
            await interaction.followup.send(ephemeral=reply.ephemeral, **message)

    async def post_late_reply(self, interaction: discord.Interaction, name: str, reply: Reply,
                              view: discord.ui.View | None = None) -> None:
        """An interaction's token lasts 15 minutes: an answer ready later goes out as a plain
        message, in the channel, or in a DM when only the asker may see it or the channel is closed."""
        user = interaction.user
        target: discord.abc.Messageable = user
        if interaction.guild_id is not None and not reply.ephemeral and interaction.channel_id is not None \
                and await self.channel_problem(str(interaction.channel_id)) is None:
            target = self.get_channel(interaction.channel_id)
        note = (f"{user.mention}, your /{name} is ready" if target is not user else f"Your /{name} is ready") + \
            " (it took longer than Discord lets a command's answer wait):"
        log.info("/%s: the interaction's token expired; answering with a %s", name,
                 "DM" if target is user else "channel message")
        for index, message in enumerate(with_buttons(render(reply, DEFAULT_FILE_LIMIT).messages, view)):
            if index == 0:
                message["content"] = f"{note}\n{message.get('content') or ''}".strip()[:2000]
            await target.send(allowed_mentions=discord.AllowedMentions(users=[user]), **message)

    async def _on_tree_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        log.error("slash command error: %r", error, exc_info=error)
        try:
            if interaction.response.is_done():
                await interaction.followup.send("something went wrong on our side; it was logged", ephemeral=True)
            else:
                await interaction.response.send_message("something went wrong on our side; it was logged",
                                                        ephemeral=True)
        except discord.HTTPException:
            pass

    # ----- prefix commands -------------------------------------------------------------
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or self.user is None or not (message.content or message.attachments):
            return
        words = await self._command_words(message) if message.content else None
        chat = None
        if words is None and await self._talks_to_friend(message):
            chat = self._without_mentions(message.content)
        if words is None and chat is None:
            if message.content:
                await self._watch_tone(message)
            return
        task = asyncio.current_task()
        self.inflight.add(task)
        try:
            if words is not None:
                await self._run_prefix_command(message, words)
            else:
                await self._chat(message, chat)
        except discord.HTTPException as exc:
            log.warning("could not answer a message: %s %s", exc.status, exc.text)
        finally:
            self.inflight.discard(task)

    async def _command_words(self, message: discord.Message) -> list[str] | None:
        """The words of a command addressed to the bot, or None (the friend may take it)."""
        content = message.content.strip()
        commands = {c.split(" ")[0] for c in REGISTRY}
        for mention in (f"<@{self.user.id}>", f"<@!{self.user.id}>"):
            if content.startswith(mention):
                words = typed_words(content[len(mention):])
                return words if words and words[0].lstrip("/!") in commands else None
        prefix = await self.app.settings.get(str(message.guild.id), "prefix") if message.guild else "!"
        if content.startswith(prefix) and len(content) > len(prefix):
            words = typed_words(content[len(prefix):])
            if words and resolve_command_name(words)[0] in REGISTRY:
                return words
        if message.guild is None and content:
            # In DMs the prefix is optional for a command word alone ("digit" with an image,
            # "help"); a longer message that merely starts with one ("help me plan...") is chat.
            words = content.split()
            if words[0].lstrip("/!") in commands and (words[0][0] in "/!" or len(words) == 1):
                return typed_words(content)
        return None

    async def _talks_to_friend(self, message: discord.Message) -> bool:
        """DMs, mentions of the bot, and threads the friend opened are conversations."""
        if message.guild is None or self.user in message.mentions:
            return True
        return isinstance(message.channel, discord.Thread) and \
            await self.app.friend.memory.is_friend_thread(str(message.channel.id))

    def _without_mentions(self, text: str) -> str:
        for mention in (f"<@{self.user.id}>", f"<@!{self.user.id}>"):
            text = text.replace(mention, " ")
        return " ".join(text.split())

    async def _chat(self, message: discord.Message, text: str) -> None:
        """A friend conversation turn: typing while it thinks, the reply growing in place."""
        # A switched-off friend is told in place (by run_command): no thread is opened for it.
        allowed = message.guild is None or (await self.app.switches.decide(
            str(message.guild.id), [str(message.channel.id), _parent_id(message.channel)], "friend")).enabled
        target = (await self._friend_thread(message) if allowed else None) or message.channel
        unreadable = [a.filename for a in message.attachments]
        if unreadable and not text:
            await message.reply(f"I can only read text, so I cannot look at {', '.join(unreadable)}.",
                                mention_author=False)
            return
        stream = StreamingReply(target, reply_to=message if target is message.channel else None)
        place = target.parent_id if isinstance(target, discord.Thread) else target.id
        ctx = CommandContext(self.app, "discord", str(message.author.id),
                             str(message.guild.id) if message.guild else None, channel_id=str(place),
                             user_name=message.author.display_name, reply_stream=stream.update)
        async with target.typing():
            reply = await run_command("friend", ctx, message=text)
        if unreadable and not reply.is_error:
            reply.text += f"\n-# (I can only read text, so I skipped {', '.join(unreadable)})"
        await stream.finish(reply, buttons_for(self.app, "friend", reply, str(message.author.id), str(place)))

    async def _friend_thread(self, message: discord.Message) -> discord.Thread | None:
        """A mention in a server's text channel opens a thread for the conversation when the
        server allows it; in a thread already, or without permission, the reply stays put."""
        channel = message.channel
        if message.guild is None or not isinstance(channel, discord.TextChannel):
            return None
        permissions = channel.permissions_for(message.guild.me)
        if not (permissions.create_public_threads and permissions.send_messages_in_threads):
            return None
        try:
            thread = await message.create_thread(name=f"{message.author.display_name} and {self.user.name}"[:100],
                                                 auto_archive_duration=1440)
        except discord.HTTPException as exc:
            log.info("could not open a thread (%s %s): answering in the channel", exc.status, exc.code)
            return None
        await self.app.friend.memory.remember_thread(str(thread.id), self.app.user_key("discord", str(message.author.id)))
        return thread

    async def _watch_tone(self, message: discord.Message) -> None:
        """Opt-in per channel: react to messages that read as passive-aggressive.
        Stores a keyed hash of the message and its score, never the text."""
        if message.guild is None:
            return
        threshold = await self.app.settings.get_extra(str(message.guild.id), watch_key(str(message.channel.id)))
        if threshold is None:
            return
        try:
            scores = await self.app.tone.score(message.content)
        except UserFacingError as exc:  # model not ready, or nothing to read: stay quiet
            log.debug("tone watch skipped a message: %s", exc)
            return
        flagged = scores["passive_aggression"] * 100 >= float(threshold)
        await record_watch(self.app.db, self.app.keyed_hash(message.content),
                           self.app.keyed_hash(str(message.channel.id)), scores["passive_aggression"], flagged)
        if flagged:
            await message.add_reaction(WATCH_EMOJI)

    async def _run_prefix_command(self, message: discord.Message, words: list[str]) -> None:
        name, rest = resolve_command_name(words)
        cmd = REGISTRY.get(name)
        if cmd is None or "discord" not in cmd.adapters:
            await message.reply(f"unknown command {name} (try /help)", mention_author=False)
            return
        attachments = [attachment_input(a) for a in message.attachments]
        try:
            calls = bind_arguments(cmd, rest, attachments)
        except InputError as exc:
            await message.reply(str(exc), mention_author=False)
            return
        member_permissions = getattr(message.author, "guild_permissions", None)
        ctx = CommandContext(self.app, "discord", str(message.author.id),
                             str(message.guild.id) if message.guild else None,
                             can_manage_server=bool(member_permissions and member_permissions.manage_guild),
                             channel_id=str(message.channel.id), parent_channel_id=_parent_id(message.channel),
                             bot_owner=self.is_bot_owner(message.author), channel_problem=self.channel_problem)
        for arguments in calls:
            reply = await run_command(cmd.name, ctx, **arguments)
            view = buttons_for(self.app, cmd.name, reply, str(message.author.id))
            for index, outgoing in enumerate(with_buttons(render(reply).messages, view)):
                if index == 0:
                    await message.reply(mention_author=False, **outgoing)
                else:
                    await message.channel.send(**outgoing)

    # ----- shutdown --------------------------------------------------------------------
    async def drain(self, timeout: float = SHUTDOWN_GRACE) -> None:
        """Stop taking new work and let what is in flight finish (or time out)."""
        self.stopping = True
        self.schedule_stop.set()
        if self.scheduler_task is not None:
            self.inflight.add(self.scheduler_task)  # a post being sent is finished, not cut
        if self.retention_task is not None:
            self.inflight.add(self.retention_task)  # a sweep is finished before the database closes
        pending = [t for t in self.inflight if not t.done()]
        if pending:
            log.info("waiting for %d command(s) in flight", len(pending))
            done, still = await asyncio.wait(pending, timeout=timeout)
            if still:
                log.warning("%d command(s) did not finish within %.0f s", len(still), timeout)


def build_slash_commands(client: MlBotClient, commands) -> list[app_commands.Command | app_commands.Group]:
    built: list = []
    groups: dict[str, app_commands.Group] = {}
    for cmd in commands:
        if "discord" not in cmd.adapters:
            continue
        slash = _slash_command(client, cmd)
        if cmd.usable_anywhere:
            slash.allowed_installs, slash.allowed_contexts = anywhere()
        if cmd.group is None:
            if cmd.manage_server:
                slash.guild_only = True
                slash.default_permissions = discord.Permissions(manage_guild=True)
            built.append(slash)
            continue
        group = groups.get(cmd.group)
        if group is None:
            group = app_commands.Group(name=cmd.group, description=GROUP_DESCRIPTIONS.get(cmd.group, cmd.group)[:100],
                                       guild_only=cmd.manage_server,
                                       default_permissions=discord.Permissions(manage_guild=True)
                                       if cmd.manage_server else None)
            groups[cmd.group] = group
            built.append(group)
        group.add_command(slash)
    return built


def tone_context_menu(client: MlBotClient) -> app_commands.ContextMenu:
    """Right-click a message -> Apps -> Check tone: a verdict only the asker sees."""

    async def check_tone(interaction: discord.Interaction, message: discord.Message) -> None:
        task = asyncio.current_task()
        client.inflight.add(task)
        try:
            await interaction.response.defer(thinking=True, ephemeral=True)
            if not message.content:
                reply = Reply.error("that message has no text I can see")
            else:
                ctx = CommandContext(client.app, "discord", str(interaction.user.id),
                                     str(interaction.guild_id) if interaction.guild_id else None,
                                     channel_id=str(interaction.channel_id) if interaction.channel_id else None,
                                     parent_channel_id=_parent_id(interaction.channel))
                reply = await run_command("tone", ctx, text=message.content)
            reply.ephemeral = True
            await client.send_interaction_reply(interaction, reply, deferred_ephemeral=True,
                                                view=buttons_for(client.app, "tone", reply, str(interaction.user.id)))
        except discord.HTTPException as exc:
            log.warning("could not answer Check tone: %s %s", exc.status, exc.text)
        finally:
            client.inflight.discard(task)

    menu = app_commands.ContextMenu(name="Check tone", callback=check_tone)
    menu.allowed_installs, menu.allowed_contexts = anywhere()
    return menu


def anywhere() -> tuple[app_commands.AppInstallationType, app_commands.AppCommandContext]:
    """A user may install the app and use the command in DMs, group DMs and any server."""
    return (app_commands.AppInstallationType(guild=True, user=True),
            app_commands.AppCommandContext(guild=True, dm_channel=True, private_channel=True))


def answers_privately(interaction: discord.Interaction) -> bool:
    """Where only the asker installed the app (a server without the bot, a group DM) the bot
    is no member and cannot post: the answer is for the asker alone."""
    if interaction.guild_id is not None:
        return not interaction.is_guild_integration()
    context = getattr(interaction, "context", None)
    return bool(context is not None and context.private_channel)


def with_buttons(messages: list[dict], view: discord.ui.View | None) -> list[dict]:
    """The rendered messages as send() takes them (empty fields left out), the buttons under the last."""
    messages = [{k: v for k, v in m.items() if v or k == "content"} for m in messages]
    if view is not None and messages:
        messages[-1]["view"] = view
    return messages


def token_expired(exc: discord.HTTPException) -> bool:
    """Discord's answer to a followup after the interaction's 15 minutes: 401 Invalid Webhook
    Token (50027), or 404 Unknown Webhook (10015) once it is gone altogether."""
    return (exc.status, exc.code) in ((401, 50027), (404, 10015))


def _parent_id(channel: Any) -> str | None:
    """The channel a thread belongs to (switches set on a channel hold in its threads)."""
    parent = getattr(channel, "parent_id", None) if isinstance(channel, discord.Thread) else None
    return str(parent) if parent else None


def _option_value(value: Any) -> Any:
    """Discord's option objects as the command layer takes them."""
    if isinstance(value, discord.Attachment):
        return attachment_input(value)
    if isinstance(value, (app_commands.AppCommandChannel, app_commands.AppCommandThread)):
        return str(value.id)
    return value


class StreamingReply:
    """A friend reply that grows in place: sent with the first finished sentence, then edited
    at most about once a second (Discord rate-limits edits), and finally set to the whole reply."""

    INTERVAL = 1.0

    def __init__(self, channel: discord.abc.Messageable, reply_to: discord.Message | None = None):
        self.channel = channel
        self.reply_to = reply_to
        self.message: discord.Message | None = None
        self._shown = ""
        self._latest = ""
        self._last = float("-inf")
        self._lock = asyncio.Lock()
        self._done = False

    async def _show(self, text: str, view: discord.ui.View | None = None) -> None:
        text = text[:2000]
        extra = {"view": view} if view is not None else {}
        if self.message is None:
            if self.reply_to is not None:
                self.message = await self.reply_to.reply(text, mention_author=False, **extra)
            else:
                self.message = await self.channel.send(text, **extra)
        elif text != self._shown or view is not None:
            await self.message.edit(content=text, **extra)
        self._shown = text
        self._last = time.monotonic()

    async def update(self, text: str) -> None:
        self._latest = text
        async with self._lock:
            if self._done or not self._latest or time.monotonic() - self._last < self.INTERVAL:
                return
            await self._show(self._latest + " …")

    async def finish(self, reply: Reply, view: discord.ui.View | None = None) -> None:
        """The whole reply, with its buttons (Regenerate) once it is complete."""
        async with self._lock:
            self._done = True
            wait = self.INTERVAL - (time.monotonic() - self._last)
            if self.message is not None and wait > 0:
                await asyncio.sleep(wait)
            await self._show(reply.as_text() or "(no reply)", view)


class ProgressMessage:
    """Shows a long command's progress in its "thinking" message, edited at most about once
    a second (Discord rate-limits message edits)."""

    INTERVAL = 1.0

    def __init__(self, interaction: discord.Interaction):
        self.interaction = interaction
        self.shown = False
        self.finished = False
        self._last = float("-inf")

    async def update(self, message: str) -> None:
        now = time.monotonic()
        if self.finished or now - self._last < self.INTERVAL:
            return
        self._last = now
        self.shown = True
        await self.interaction.edit_original_response(content=message[:2000])


def _slash_command(client: MlBotClient, cmd: Command) -> app_commands.Command:
    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        await client.handle_interaction(cmd, interaction, values)

    parameters = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                    annotation=discord.Interaction)]
    for option in cmd.options:
        annotation: Any = _ANNOTATIONS[option.kind]
        if option.kind in (OptionKind.INTEGER, OptionKind.NUMBER) and (
                option.min_value is not None or option.max_value is not None):
            annotation = app_commands.Range[annotation, option.min_value, option.max_value]
        elif option.kind is OptionKind.TEXT and option.max_length:
            annotation = app_commands.Range[str, 1, option.max_length]
        parameters.append(inspect.Parameter(
            option.name, inspect.Parameter.KEYWORD_ONLY,
            annotation=annotation if option.required else annotation | None,
            default=inspect.Parameter.empty if option.required else None))
    # discord.py reads a command's options from its callback's signature.
    callback.__signature__ = inspect.Signature(parameters)
    callback.__discord_app_commands_param_description__ = {o.name: o.description[:100] for o in cmd.options}
    return app_commands.Command(name=cmd.leaf, description=cmd.description[:100], callback=callback)


class ShardedMlBotClient(MlBotClient, discord.AutoShardedClient):
    """The same bot on discord.py's AutoShardedClient: one process, several shards."""


class DiscordRunner:
    """Runs the client until a stop is requested, then shuts down cleanly."""

    def __init__(self, app: App, token: str, guild_ids: list[int] | None = None, shards: ShardPlan | None = None,
                 **client_options: Any):
        self.app = app
        self.shards = shards
        app.shards = shards  # /status says which shards this process holds
        self.health_port = client_options.pop("health_port", None)  # tests: 0 = any free port
        self.health: HealthServer | None = None
        self.token = token
        self.guild_ids = guild_ids if guild_ids is not None else guild_ids_from_env()
        self.client_options = client_options
        self.client: MlBotClient | None = None
        self.stop_requested = asyncio.Event()

    def request_stop(self) -> None:
        self.stop_requested.set()

    async def run(self) -> int:
        """0 after a requested stop, 2 if Discord refused the token, 1 if the connection failed."""
        intents = discord.Intents.default()
        intents.message_content = True
        health = None
        port = metrics_port() if self.health_port is None else self.health_port
        if port is not None:
            health = await HealthServer(self.app, lambda: self.client, port).start()
            self.health = health
        try:
            while True:
                client_class = ShardedMlBotClient if self.shards else MlBotClient
                self.client = client_class(self.app, intents, self.guild_ids, shards=self.shards, **self.client_options)
                outcome = await self._connect(self.client)
                if outcome is not RETRY_SLASH_ONLY:
                    return outcome
                await self.client.close()
                intents.message_content = False
        finally:
            # One shutdown path for every ending: finish work in flight, then close.
            if self.client is not None:
                if not self.client.is_closed():
                    log.info("stopping: finishing commands in flight")
                await self.client.drain()
                await self.client.close()
            if health is not None:
                await health.stop()
            await self.app.close()

    async def _connect(self, client: MlBotClient):
        """Run the client until it ends or a stop is requested."""
        connection = asyncio.create_task(client.start(self.token))
        stopper = asyncio.create_task(self.stop_requested.wait())
        await asyncio.wait({connection, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not connection.done():
            connection.add_done_callback(lambda task: task.cancelled() or task.exception())  # ends at close()
            return 0
        exc = connection.exception()
        if isinstance(exc, discord.PrivilegedIntentsRequired) and client.intents.message_content:
            log.warning("Discord refused the Message Content intent; reconnecting slash-only")
            return RETRY_SLASH_ONLY
        if isinstance(exc, discord.LoginFailure):
            log.error("Discord refused the token (login failed)")
            print("mlbot: Discord refused the token (check DISCORD_TOKEN)", flush=True)
            return 2
        if exc is not None:
            log.error("Discord connection ended: %r", exc, exc_info=exc)
            return 1
        return 0


async def fetch_gateway_bot(token: str) -> tuple[int, int]:
    """Discord's recommended shard count and max_concurrency (GET /gateway/bot)."""
    import aiohttp

    url = f"{discord.http.Route.BASE}/gateway/bot"
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers={"Authorization": f"Bot {token}"},
                               timeout=aiohttp.ClientTimeout(total=30)) as response:
            if response.status == 401:
                raise discord.LoginFailure("Discord refused the token")
            response.raise_for_status()
            body = await response.json(content_type=None)
    return int(body["shards"]), int(body["session_start_limit"]["max_concurrency"])


async def run_discord(app: App, start, token: str, shards: ShardPlan | None = None) -> int:
    point_at_endpoints()
    await start()
    if shards is not None:
        log.info("holding %s", shards.describe())
    runner = DiscordRunner(app, token, shards=shards)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runner.request_stop)
    return await runner.run()

"""A fake Discord (REST + Gateway) on 127.0.0.1 that the real discord.py client talks to.

It enforces the rules a bot must respect, answering with Discord's own error codes:
  2000-character message content, 6000-character embeds, file size limits,
  the 3-second acknowledgement window, one acknowledgement per interaction,
  15-minute interaction tokens, and the privileged Message Content intent.
Faults can be injected on demand: 429s (with the Via header discord.py needs to retry),
5xx errors, and gateway disconnects (op 7 RECONNECT or a close code).

Shards: GET /gateway/bot answers `shards` and `max_concurrency`; IDENTIFY carries
`shard: [id, count]`; each server (add_guild makes more) belongs to shard (id >> 22) % count
and its events go only to that shard's connection (DMs to shard 0); with identify_window
set, an identify too soon after another in its bucket (shard_id % max_concurrency) is
invalidated with op 9, as Discord does.

Bot messages in channels can be edited (each edit is timed, for pacing checks), typing is
recorded, and threads can be started from messages (refused with 403 when allow_threads is off).

Components: messages carry action rows of buttons (checked against Discord's limits); a user
clicks one with click_button, which dispatches INTERACTION_CREATE of type 3 (MESSAGE_COMPONENT)
carrying the message, and the bot answers with type 4 (a new message), 5 (thinking, then a
followup), 6 (deferred update: later edits of @original change the clicked message) or 7
(update the clicked message at once). Only the one who sees an ephemeral message can click it.

Time: interaction acknowledgement windows and token lifetimes are read from `clock`
(time.monotonic by default); a FakeClock lets a test move 15 minutes on at once.

The test driver API is the public methods of FakeDiscord (user_says, run_slash,
wait_for_reply, bot_messages_in, wait_until, inject_429, drop_gateway, ...).
"""
from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import aiohttp
from aiohttp import web

from tests.fake_discord import payloads as p

MESSAGE_CONTENT_INTENT = 1 << 15
EPHEMERAL = 1 << 6
DEFAULT_FILE_LIMIT = 10 * 1024 * 1024
REQUEST_LIMIT = 25 * 1024 * 1024


def shard_of(guild_id: str, shard_count: int) -> int:
    """The shard a server's events go to (Discord's Gateway docs: (guild_id >> 22) % num_shards)."""
    return (int(guild_id) >> 22) % shard_count


class DiscordError(Exception):
    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def json_response(data: Any, status: int = 200, headers: dict | None = None) -> web.Response:
    # Exactly "application/json": discord.py treats anything else (even with a charset) as text.
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


@dataclass
class SentMessage:
    payload: dict
    files: list[tuple[str, bytes]]
    ephemeral: bool
    interaction_id: str | None = None
    edits: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, content) per PATCH

    @property
    def content(self) -> str:
        return self.payload.get("content") or ""

    @property
    def embeds(self) -> list[dict]:
        return self.payload.get("embeds") or []

    @property
    def text(self) -> str:
        """Content plus embed titles, descriptions and fields, for assertions."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title") or "", embed.get("description") or ""]
            parts += [f"{f['name']}: {f['value']}" for f in embed.get("fields", [])]
        return "\n".join(part for part in parts if part)


@dataclass(frozen=True)
class Channel:
    """A channel option's value in run_slash: `{"channel": Channel(fake.channel_id, "general")}`."""
    id: str
    name: str


SEND_MESSAGES = 1 << 11
ACTION_ROW, BUTTON = 1, 2
BUTTON_STYLES = {1, 2, 3, 4, 5}  # primary, secondary, success, danger, link


class FakeClock:
    """The fake's clock for interaction windows: real monotonic time plus what advance() added."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class InteractionRecord:
    id: str
    token: str
    payload: dict
    created: float
    acknowledged_at: float | None = None
    ack_type: int | None = None
    ephemeral: bool = False
    original: SentMessage | None = None
    original_deleted: bool = False
    original_edits: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, content)
    followups: list[SentMessage] = field(default_factory=list)
    replied: asyncio.Event = field(default_factory=asyncio.Event)
    clicked: SentMessage | None = None  # a component interaction's message (types 6 and 7 change it)

    @property
    def ack_latency(self) -> float | None:
        return None if self.acknowledged_at is None else self.acknowledged_at - self.created

    @property
    def replies(self) -> list[SentMessage]:
        found = [] if self.original is None or self.original_deleted else [self.original]
        return found + self.followups


@dataclass
class Session:
    session_id: str
    intents: int
    shard: tuple[int, int] = (0, 1)
    seq: int = 0
    sent: list[dict] = field(default_factory=list)  # dispatches, replayed on RESUME
    ws: web.WebSocketResponse | None = None


class FakeDiscord:
    def __init__(self, token: str = "fake-token.for-tests.only", *, grant_message_content: bool = True,
                 heartbeat_interval_ms: int = 1000, ack_window: float = 3.0, token_lifetime: float = 900.0,
                 attachment_size_limit: int = DEFAULT_FILE_LIMIT, allow_threads: bool = True, port: int = 0,
                 shards: int = 1, max_concurrency: int = 1, identify_window: float = 0.0,
                 clock: Callable[[], float] = time.monotonic):
        self.token = token
        self.clock = clock  # interaction windows and token lifetimes (a FakeClock can jump ahead)
        self.grant_message_content = grant_message_content
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.ack_window = ack_window
        self.token_lifetime = token_lifetime
        self.attachment_size_limit = attachment_size_limit
        # False: the bot lacks Create Public Threads (403 50013), so its fallback can be tested.
        self.allow_threads = allow_threads

        self.app_id = p.snowflake()
        self.bot_user = p.user(self.app_id, "mlbot", bot=True)
        self.guild_id = p.snowflake()
        self.channel_id = p.snowflake()
        # A server the bot was never added to, where a user who installed the app can use it.
        self.foreign_guild_id, self.foreign_channel_id = p.snowflake(), p.snowflake()
        # A channel where @everyone (the bot too) may read but not send: Discord answers 403.
        self.readonly_channel_id = p.snowflake()
        # More servers (guild id -> its one text channel's id), on the shards they are made for.
        self.extra_guilds: dict[str, str] = {}
        # What GET /gateway/bot answers, and Discord's rule that identifies in one bucket
        # (shard_id % max_concurrency) are `identify_window` seconds apart (Discord: 5 s; off
        # by default so single-connection tests can restart the bot at once).
        self.recommended_shards = shards
        self.max_concurrency = max_concurrency
        self.identify_window = identify_window
        self.last_identify: dict[int, float] = {}  # bucket -> monotonic time
        self.shard_sessions: dict[int, Session] = {}  # shard id -> its live session
        self.rejected_identifies = 0
        self.users: dict[str, dict] = {}
        self.permissions: dict[str, int] = {}
        self.dm_channels: dict[str, dict] = {}
        self.threads: dict[str, dict] = {}  # id (that of the message it started from) -> channel payload
        self.user_messages: dict[str, dict] = {}  # id -> payload of what users said, to start threads from

        self.global_commands: list[dict] = []
        self.guild_commands: dict[str, list[dict]] = {}
        self.command_syncs = 0
        self.interactions: dict[str, InteractionRecord] = {}
        self.channel_messages: list[SentMessage] = []
        self.attachments: dict[str, tuple[str, bytes, str | None]] = {}
        self.reactions: list[tuple[str, str, str]] = []
        self.typing: list[tuple[str, float]] = []  # (channel id, monotonic time)
        self.attachment_downloads: list[str] = []
        self.errors: list[dict] = []  # every rule the bot broke, for assertions

        self.sessions: dict[str, Session] = {}
        self.current_session: Session | None = None
        self.heartbeats: list[float] = []
        self.identifies = 0
        self.resumes = 0
        self.ready = asyncio.Event()
        self._message_waiters: list[asyncio.Future] = []
        self.faults: list[dict] = []
        self._runner: web.AppRunner | None = None
        self.port = port  # 0: any free port, known after start()

    # ----- lifecycle -------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> "FakeDiscord":
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self._middleware])
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{id}/{filename}", self._serve_attachment)
        api = "/api/v10"
        app.router.add_get(api + "/users/@me", self._get_me)
        app.router.add_get(api + "/oauth2/applications/@me", self._get_application)
        app.router.add_get(api + "/gateway", self._get_gateway)
        app.router.add_get(api + "/gateway/bot", self._get_gateway_bot)
        app.router.add_put(api + "/applications/{app}/commands", self._put_global_commands)
        app.router.add_get(api + "/applications/{app}/commands", self._get_global_commands)
        app.router.add_put(api + "/applications/{app}/guilds/{guild}/commands", self._put_guild_commands)
        app.router.add_post(api + "/interactions/{id}/{token}/callback", self._interaction_callback)
        app.router.add_post(api + "/webhooks/{app}/{token}", self._followup)
        app.router.add_patch(api + "/webhooks/{app}/{token}/messages/@original", self._edit_original)
        app.router.add_delete(api + "/webhooks/{app}/{token}/messages/@original", self._delete_original)
        app.router.add_post(api + "/channels/{channel}/messages", self._channel_message)
        app.router.add_patch(api + "/channels/{channel}/messages/{message}", self._edit_channel_message)
        app.router.add_post(api + "/channels/{channel}/messages/{message}/threads", self._start_thread)
        app.router.add_post(api + "/channels/{channel}/typing", self._typing)
        app.router.add_put(api + "/channels/{channel}/messages/{message}/reactions/{emoji}/@me", self._add_reaction)
        app.router.add_post(api + "/users/@me/channels", self._create_dm)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self.add_user("alice", manage_guild=True)
        self.add_user("bob")
        return self

    async def stop(self) -> None:
        for session in self.sessions.values():
            if session.ws is not None and not session.ws.closed:
                await session.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> "FakeDiscord":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # ----- people and places -----------------------------------------------------------
    def add_user(self, name: str, manage_guild: bool = False) -> dict:
        payload = p.user(p.snowflake(), name)
        self.users[name] = payload
        self.permissions[payload["id"]] = p.BASIC_MEMBER_PERMISSIONS | (p.MANAGE_GUILD if manage_guild else 0)
        return payload

    def _member(self, user_payload: dict) -> dict:
        return p.member(user_payload, self.permissions.get(user_payload["id"], p.BASIC_MEMBER_PERMISSIONS))

    def add_guild(self, shard: int, shard_count: int) -> tuple[str, str]:
        """Another server, with an id that puts it on `shard` of `shard_count` ((id >> 22) % count,
        as Discord places servers); returns (guild id, its #general's id)."""
        while True:
            guild_id = p.snowflake()
            if shard_of(guild_id, shard_count) == shard and guild_id not in self.extra_guilds:
                break
            time.sleep(0.001)  # the next millisecond gives the next shard
        self.extra_guilds[guild_id] = p.snowflake()
        return guild_id, self.extra_guilds[guild_id]

    def all_guilds(self) -> dict[str, str]:
        """guild id -> its #general's id, for every server the bot is in."""
        return {self.guild_id: self.channel_id, **self.extra_guilds}

    def _guild_payload(self, guild_id: str | None = None) -> dict:
        if guild_id is not None and guild_id != self.guild_id:
            channels = [p.text_channel(self.extra_guilds[guild_id], guild_id, "general")]
            return self._guild_with(guild_id, f"Server {guild_id[-4:]}", channels, [])
        readonly = p.text_channel(self.readonly_channel_id, self.guild_id, "news", position=1)
        readonly["permission_overwrites"] = [{"id": self.guild_id, "type": 0, "allow": "0", "deny": str(SEND_MESSAGES)}]
        channels = [p.text_channel(self.channel_id, self.guild_id, "general"), readonly]
        return self._guild_with(self.guild_id, "Test Server", channels, list(self.threads.values()))

    def _guild_with(self, guild_id: str, name: str, channels: list[dict], threads: list[dict]) -> dict:
        members = [self._member(u) for u in self.users.values()]
        members.append(p.member(self.bot_user, p.BASIC_MEMBER_PERMISSIONS))
        # The bot can see whether it may start threads, as it would on Discord.
        everyone = p.BASIC_MEMBER_PERMISSIONS | (p.CREATE_PUBLIC_THREADS | p.SEND_MESSAGES_IN_THREADS
                                                 if self.allow_threads else 0)
        roles = [p.role(guild_id, "@everyone", everyone)]
        owner = next(iter(self.users.values()))["id"]
        return p.guild(guild_id, name, owner, channels, members, roles, threads)

    def dm_channel_for(self, user_payload: dict) -> dict:
        if user_payload["id"] not in self.dm_channels:
            self.dm_channels[user_payload["id"]] = p.dm_channel(p.snowflake(), user_payload)
        return self.dm_channels[user_payload["id"]]

    def _guild_of(self, channel_id: str) -> str | None:
        """The guild a known channel is in (None for a DM); Discord answers 404 for others."""
        if channel_id in (self.channel_id, self.readonly_channel_id) or channel_id in self.threads:
            return self.guild_id
        for guild_id, general in self.extra_guilds.items():
            if channel_id == general:
                return guild_id
        if any(c["id"] == channel_id for c in self.dm_channels.values()):
            return None
        raise DiscordError(404, 10003, "Unknown Channel")

    def _sendable_guild(self, channel_id: str) -> str | None:
        """_guild_of, for a channel the bot must be allowed to send (or type) in."""
        guild_id = self._guild_of(channel_id)
        if channel_id == self.readonly_channel_id:
            raise DiscordError(403, 50013, "Missing Permissions")
        return guild_id

    def _count_message(self, channel_id: str, message_id: str) -> None:
        # Threads keep counts and their last message, as Discord's thread payloads do.
        thread = self.threads.get(channel_id)
        if thread is not None:
            thread["message_count"] += 1
            thread["total_message_sent"] += 1
            thread["last_message_id"] = message_id

    def _store_attachment(self, filename: str, data: bytes, content_type: str | None) -> dict:
        attachment_id = p.snowflake()
        self.attachments[attachment_id] = (filename, data, content_type)
        url = f"{self.base_url}/attachments/{attachment_id}/{filename}"
        return p.attachment(attachment_id, filename, len(data), url, content_type)

    # ----- driver API for tests --------------------------------------------------------
    async def user_says(self, user_name: str, content: str, *, dm: bool = False,
                        files: list[tuple[str, bytes, str | None]] | None = None,
                        mention_bot: bool = False, channel_id: str | None = None) -> dict:
        """A user posts in #general, their DM with the bot (dm=True) or channel_id (a thread, say).

        mention_bot puts the bot in `mentions`; write `<@{fake.app_id}>` in content for the text.
        """
        author = self.users[user_name]
        attachments = [self._store_attachment(*f) for f in files or []]
        if dm:
            channel_id, guild_id = self.dm_channel_for(author)["id"], None
        else:
            channel_id = channel_id or self.channel_id
            guild_id = self._guild_of(channel_id)
        payload = p.message(p.snowflake(), channel_id, author, content, guild_id=guild_id, attachments=attachments,
                            mentions=[self.bot_user] if mention_bot else [],
                            member_payload=self._member(author) if guild_id else None)
        self.user_messages[payload["id"]] = payload
        self._count_message(channel_id, payload["id"])
        await self._dispatch("MESSAGE_CREATE", payload, message_event=True)
        return payload

    async def run_slash(self, user_name: str, name: str, options: dict[str, Any] | None = None, *,
                        subcommand: str | None = None, dm: bool = False,
                        files: dict[str, tuple[str, bytes, str | None]] | None = None,
                        guild_command: bool = False, guild_id: str | None = None,
                        user_install: bool = False, group_dm: bool = False) -> InteractionRecord:
        """Dispatch INTERACTION_CREATE as Discord does when a user runs a slash command
        (in #general of the first server, or of `guild_id`).

        user_install: in a server the bot is not in, through the invoker's own install of the
        app; group_dm: in a group DM, likewise. Discord offers a command there only when its
        integration_types and contexts allow it; otherwise this raises LookupError."""
        invoker = self.users[user_name]
        command = self._find_command(name, guild_command)
        self._check_offered(command, installed_by_user=user_install or group_dm,
                            context=2 if group_dm else 1 if dm else 0)
        option_list, resolved = [], {}
        for option_name, value in list((options or {}).items()):
            if isinstance(value, Channel):  # a channel option: its id, resolved like Discord does
                options = {k: v for k, v in options.items() if k != option_name}
                option_list.append({"name": option_name, "type": 7, "value": value.id})
                resolved.setdefault("channels", {})[value.id] = {
                    "id": value.id, "name": value.name, "type": 0, "permissions": str(p.BASIC_MEMBER_PERMISSIONS),
                    "guild_id": guild_id or self.guild_id}
        for option_name, (filename, data, content_type) in (files or {}).items():
            attachment = self._store_attachment(filename, data, content_type)
            resolved[attachment["id"]] = attachment
            option_list.append({"name": option_name, "type": 11, "value": attachment["id"]})
        for option_name, value in (options or {}).items():
            kind = (5 if isinstance(value, bool) else 4 if isinstance(value, int) else 10 if isinstance(value, float)
                    else 3)
            option_list.append({"name": option_name, "type": kind, "value": value})
        if subcommand:
            option_list = [{"name": subcommand, "type": 1, "options": option_list}]
        data = {"id": command["id"], "name": name, "type": 1, "options": option_list}
        channels = resolved.pop("channels", None)
        if resolved:
            data["resolved"] = {"attachments": resolved}
        if channels:
            data.setdefault("resolved", {})["channels"] = channels
        place = self._place(invoker, dm=dm, user_install=user_install, group_dm=group_dm, guild_id=guild_id)
        if guild_command and not (dm or user_install or group_dm):
            data["guild_id"] = place["guild_id"]
        return await self._interact(2, data, place)

    def _place(self, invoker: dict, *, dm: bool = False, user_install: bool = False, group_dm: bool = False,
               guild_id: str | None = None) -> dict:
        """Where an interaction happens, as its payload says: guild and channel, member (in a
        server) or user, context (0 server, 1 the bot's DM, 2 a group DM) and who installed the
        app there (authorizing_integration_owners: "0" a server, "1" the user)."""
        if group_dm:
            channel = p.group_dm_channel(p.snowflake(), invoker, [u for u in self.users.values() if u is not invoker])
            return {"channel_id": channel["id"], "channel": channel, "user": invoker, "context": 2,
                    "authorizing_integration_owners": {"1": invoker["id"]}}
        if dm:
            channel = self.dm_channel_for(invoker)
            return {"channel_id": channel["id"], "channel": channel, "user": invoker, "context": 1,
                    "authorizing_integration_owners": {"1": invoker["id"]}}
        if user_install:  # a server the bot is not in, through the invoker's own install
            guild_id, channel_id, owners = self.foreign_guild_id, self.foreign_channel_id, {"1": invoker["id"]}
            channel = p.text_channel(channel_id, guild_id, "elsewhere")
        else:
            guild_id = guild_id or self.guild_id
            channel_id, owners = self.all_guilds()[guild_id], {"0": guild_id}
            channel = p.text_channel(channel_id, guild_id, "general")
        return {"guild_id": guild_id, "channel_id": channel_id, "channel": channel, "member": self._member(invoker),
                "guild_locale": "en-US", "context": 0, "authorizing_integration_owners": owners}

    async def _interact(self, kind: int, data: dict, place: dict) -> InteractionRecord:
        """Dispatch an INTERACTION_CREATE of `kind` (2 a command, 3 a component) at `place`."""
        interaction_id, token = p.snowflake(), f"itoken-{p.snowflake()}"
        payload = {"id": interaction_id, "application_id": self.app_id, "type": kind, "token": token, "version": 1,
                   "data": data, "locale": "en-US", "attachment_size_limit": self.attachment_size_limit,
                   "entitlements": [], "app_permissions": str(p.BASIC_MEMBER_PERMISSIONS), **place}
        record = InteractionRecord(interaction_id, token, payload, self.clock())
        self.interactions[interaction_id] = record
        await self._dispatch("INTERACTION_CREATE", payload)
        return record

    async def run_context_menu(self, user_name: str, name: str, target: dict, *, dm: bool = False,
                               user_install: bool = False, group_dm: bool = False) -> InteractionRecord:
        """A user right-clicks the message `target` (a payload from user_says) -> Apps -> name;
        user_install and group_dm as in run_slash (Discord offers it only where it is allowed)."""
        invoker = self.users[user_name]
        command = self._find_command(name, False)
        self._check_offered(command, installed_by_user=user_install or group_dm,
                            context=2 if group_dm else 1 if dm else 0)
        data = {"id": command["id"], "name": name, "type": 3, "target_id": target["id"],
                "resolved": {"messages": {target["id"]: target}}}
        return await self._interact(2, data, self._place(invoker, dm=dm, user_install=user_install,
                                                         group_dm=group_dm))

    @staticmethod
    def buttons(message: SentMessage) -> list[dict]:
        """The buttons of a message, row by row."""
        return [item for row in message.payload.get("components") or [] for item in row.get("components", [])
                if item.get("type") == BUTTON]

    async def click_button(self, user_name: str, message: SentMessage, label: str | None = None, *,
                           custom_id: str | None = None) -> InteractionRecord:
        """A user clicks the button of `message` with this label (or custom_id): a type 3
        interaction where the message is. Raises LookupError where a Discord user could not
        click it (no such button, disabled, or an ephemeral message shown to someone else)."""
        clicker = self.users[user_name]
        button = next((b for b in self.buttons(message)
                       if (custom_id is not None and b.get("custom_id") == custom_id)
                       or (custom_id is None and b.get("label") == label)), None)
        if button is None:
            raise LookupError(f"no button {label or custom_id!r} on that message: "
                              f"{[b.get('label') for b in self.buttons(message)]}")
        if button.get("disabled") or button.get("style") == 5:
            raise LookupError(f"the button {label or custom_id!r} cannot be clicked")
        source = self.interactions.get(message.interaction_id or "")
        if message.ephemeral and (source is None or self._invoker(source.payload)["id"] != clicker["id"]):
            raise LookupError("only the one it was shown to sees an ephemeral message")
        if source is not None:  # the place of the interaction that posted the message
            place = {k: v for k, v in source.payload.items()
                     if k in ("guild_id", "channel_id", "channel", "guild_locale", "context",
                              "authorizing_integration_owners")}
            place["member" if "guild_id" in place else "user"] = \
                self._member(clicker) if "guild_id" in place else clicker
        else:
            guild_id = message.payload.get("guild_id")
            place = self._place(clicker, dm=guild_id is None, guild_id=guild_id)
            place["channel_id"] = message.payload["channel_id"]
            place["channel"] = {**place["channel"], "id": message.payload["channel_id"]}
        data = {"custom_id": button["custom_id"], "component_type": BUTTON}
        record = await self._interact(3, data, {**place, "message": message.payload})
        record.clicked = message
        return record

    @staticmethod
    def _invoker(payload: dict) -> dict:
        return payload["member"]["user"] if "member" in payload else payload["user"]

    async def wait_for_reply(self, record: InteractionRecord, timeout: float = 30) -> SentMessage:
        await asyncio.wait_for(record.replied.wait(), timeout)
        return record.replies[-1]

    async def wait_for_channel_message(self, channel_id: str | None = None, timeout: float = 30,
                                       after: int = 0) -> SentMessage:
        """The first message the bot posts in a channel (index >= after in channel_messages)."""
        def first() -> SentMessage | None:
            return next((sent for sent in self.channel_messages[after:]
                         if channel_id is None or sent.payload["channel_id"] == channel_id), None)
        return await self.wait_until(first, timeout, "the bot posted no message")

    def bot_messages_in(self, channel_id: str) -> list[SentMessage]:
        """What the bot posted in a channel (a thread, a DM...), oldest first; edits show in place."""
        return [sent for sent in self.channel_messages if sent.payload["channel_id"] == channel_id]

    async def wait_until(self, condition, timeout: float = 30, what: str = "the condition never held"):
        """condition()'s first truthy value, checked again whenever the bot posts, edits, reacts or types."""
        deadline = time.monotonic() + timeout
        while True:
            found = condition()
            if found:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise asyncio.TimeoutError(what)
            waiter = asyncio.get_running_loop().create_future()
            self._message_waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except asyncio.TimeoutError:
                pass

    def inject_429(self, method: str, path_pattern: str, count: int = 1, retry_after: float = 0.3,
                   is_global: bool = False) -> None:
        self.faults.append({"kind": 429, "method": method, "pattern": re.compile(path_pattern), "count": count,
                             "retry_after": retry_after, "global": is_global})

    def inject_error(self, status: int, method: str, path_pattern: str, count: int = 1) -> None:
        self.faults.append({"kind": status, "method": method, "pattern": re.compile(path_pattern), "count": count})

    async def drop_gateway(self, how: str | int = "reconnect") -> None:
        """'reconnect' sends op 7; an int closes the socket with that close code."""
        session = self.current_session
        if session is None or session.ws is None:
            raise RuntimeError("no gateway connection to drop")
        if how == "reconnect":
            await session.ws.send_str(json.dumps({"op": 7, "d": None, "s": None, "t": None}))
        else:
            await session.ws.close(code=int(how))

    # ----- REST plumbing ---------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        for fault in self.faults:
            if fault["count"] > 0 and request.method == fault["method"] and fault["pattern"].search(request.path):
                fault["count"] -= 1
                if fault["kind"] == 429:
                    retry = fault["retry_after"]
                    headers = {"Via": "1.1 google", "Retry-After": str(max(1, round(retry))),
                               "X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
                               "X-RateLimit-Reset-After": str(retry), "X-RateLimit-Bucket": "fake-bucket",
                               "X-RateLimit-Reset": str(time.time() + retry)}
                    if fault["global"]:
                        headers["X-RateLimit-Global"] = "true"
                    body = {"message": "You are being rate limited.", "retry_after": retry, "global": fault["global"]}
                    return json_response(body, 429, headers)
                return json_response({"message": "Server error", "code": 0}, fault["kind"])
        if request.path.startswith("/api/") and not request.path.startswith("/api/v10/webhooks/") \
                and not request.path.startswith("/api/v10/interactions/"):
            if request.headers.get("Authorization") != f"Bot {self.token}":
                return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        try:
            return await handler(request)
        except DiscordError as exc:
            self.errors.append({"path": request.path, "code": exc.code, "message": exc.message})
            return json_response({"message": exc.message, "code": exc.code}, exc.status)

    async def _serve_attachment(self, request: web.Request) -> web.Response:
        found = self.attachments.get(request.match_info["id"])
        self.attachment_downloads.append(request.match_info["id"])
        if found is None:
            return web.Response(status=404)
        filename, data, content_type = found
        return web.Response(body=data, content_type=content_type or "application/octet-stream")

    async def _get_me(self, request):
        return json_response(self.bot_user)

    async def _get_application(self, request):
        owner = next(iter(self.users.values()))
        return json_response({
            "id": self.app_id, "name": "mlbot", "icon": None, "description": "fake application",
            "bot_public": True, "bot_require_code_grant": False, "owner": owner, "verify_key": "0" * 64,
            "flags": 0, "summary": "", "team": None, "rpc_origins": [], "tags": [],
        })

    async def _get_gateway(self, request):
        return json_response({"url": self.gateway_url})

    async def _get_gateway_bot(self, request):
        return json_response({"url": self.gateway_url, "shards": self.recommended_shards, "session_start_limit": {
            "total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": self.max_concurrency}})

    def _echo_commands(self, commands: list[dict], guild_id: str | None) -> list[dict]:
        echoed = []
        for command in commands:
            item = {**command, "id": p.snowflake(), "application_id": self.app_id, "version": p.snowflake()}
            item.setdefault("type", 1)
            item.setdefault("description", "")  # context menus have none; Discord echoes ""
            item.setdefault("options", [])
            item.setdefault("default_member_permissions", None)
            item.setdefault("nsfw", False)
            if guild_id:
                item["guild_id"] = guild_id
            echoed.append(item)
        return echoed

    async def _put_global_commands(self, request):
        self.command_syncs += 1
        self.global_commands = self._echo_commands(await request.json(), None)
        return json_response(self.global_commands)

    async def _get_global_commands(self, request):
        return json_response(self.global_commands)

    async def _put_guild_commands(self, request):
        self.command_syncs += 1
        guild_id = request.match_info["guild"]
        self.guild_commands[guild_id] = self._echo_commands(await request.json(), guild_id)
        return json_response(self.guild_commands[guild_id])

    @staticmethod
    def _check_offered(command: dict, installed_by_user: bool, context: int) -> None:
        """Discord lists a command only where its install type and context allow it (unset:
        guild installs, every context)."""
        installs = command.get("integration_types") or [0]
        contexts = command.get("contexts") or [0, 1, 2]
        if (1 if installed_by_user else 0) not in installs or context not in contexts:
            raise LookupError(f"Discord does not offer /{command['name']} there "
                              f"(integration_types {installs}, contexts {contexts})")

    def _find_command(self, name: str, guild_command: bool) -> dict:
        pool = self.guild_commands.get(self.guild_id, []) if guild_command else self.global_commands
        for command in pool:
            if command["name"] == name:
                return command
        raise KeyError(f"the bot has not registered /{name}")

    async def _read_message_body(self, request: web.Request) -> tuple[dict, list[tuple[str, bytes]]]:
        """JSON or multipart (payload_json + files[n]); checks Discord's size rules."""
        if request.content_length and request.content_length > REQUEST_LIMIT:
            raise DiscordError(413, 40005, "Request entity too large")
        if not request.content_type.startswith("multipart/"):
            return await request.json(), []
        payload, files = {}, []
        reader = await request.multipart()
        async for part in reader:
            if part.name == "payload_json":
                payload = json.loads(await part.text())
            elif part.name and part.name.startswith("files["):
                files.append((part.filename or "file", await part.read(decode=False)))
        return payload, files

    def _check_message(self, payload: dict, files: list[tuple[str, bytes]], file_limit: int) -> None:
        content = payload.get("content") or ""
        if len(content) > 2000:
            raise DiscordError(400, 50035, "Invalid Form Body: content: Must be 2000 or fewer in length.")
        embeds = payload.get("embeds") or []
        if len(embeds) > 10:
            raise DiscordError(400, 50035, "Invalid Form Body: embeds: Must be 10 or fewer in length.")
        total = 0
        for embed in embeds:
            description = embed.get("description") or ""
            if len(description) > 4096:
                raise DiscordError(400, 50035, "Invalid Form Body: embeds.description: Must be 4096 or fewer in length.")
            fields = embed.get("fields") or []
            if len(fields) > 25:
                raise DiscordError(400, 50035, "Invalid Form Body: embeds.fields: Must be 25 or fewer in length.")
            total += len(embed.get("title") or "") + len(description)
            total += sum(len(f.get("name", "")) + len(f.get("value", "")) for f in fields)
            total += len((embed.get("footer") or {}).get("text", ""))
        if total > 6000:
            raise DiscordError(400, 50035, "Invalid Form Body: embeds: Embed size exceeds maximum size of 6000")
        for filename, data in files:
            if len(data) > file_limit:
                raise DiscordError(413, 40005, "Request entity too large")
        if not content and not embeds and not files and not payload.get("attachments"):
            raise DiscordError(400, 50006, "Cannot send an empty message")
        self._check_components(payload.get("components") or [])

    @staticmethod
    def _check_components(rows: list[dict]) -> None:
        """Discord's rules for buttons: at most 5 action rows of at most 5 buttons, each with a
        style, a label or emoji of at most 80 characters, and a custom_id of at most 100
        characters unique in the message (a link button has a url instead)."""
        def invalid(what: str) -> DiscordError:
            return DiscordError(400, 50035, f"Invalid Form Body: components: {what}")
        if len(rows) > 5:
            raise invalid("Must be 5 or fewer in length.")
        seen: set[str] = set()
        for row in rows:
            if row.get("type") != ACTION_ROW or not 1 <= len(row.get("components") or []) <= 5:
                raise invalid("an action row holds 1 to 5 components")
            for item in row["components"]:
                if item.get("type") != BUTTON or item.get("style") not in BUTTON_STYLES:
                    raise invalid("Value of field \"type\" or \"style\" is not valid")
                if not (item.get("label") or item.get("emoji")) or len(item.get("label") or "") > 80:
                    raise invalid("a button has a label (1-80 characters) or an emoji")
                if item["style"] == 5:
                    if not item.get("url") or "custom_id" in item:
                        raise invalid("a link button has a url and no custom_id")
                    continue
                custom_id = item.get("custom_id") or ""
                if not 1 <= len(custom_id) <= 100:
                    raise invalid("custom_id: Must be between 1 and 100 in length.")
                if custom_id in seen:
                    raise invalid("Component custom id cannot be duplicated")
                seen.add(custom_id)

    def _store_sent(self, payload: dict, files: list[tuple[str, bytes]], channel_id: str,
                    guild_id: str | None, interaction_id: str | None = None) -> SentMessage:
        attachments = [self._store_attachment(name, data, None) for name, data in files]
        flags = int(payload.get("flags") or 0)
        message = p.message(p.snowflake(), channel_id, self.bot_user, payload.get("content") or "",
                            guild_id=guild_id, attachments=attachments, embeds=payload.get("embeds") or [],
                            flags=flags, reference=payload.get("message_reference"))
        message["components"] = payload.get("components") or []
        if interaction_id is not None:  # who the message answers, as Discord's interaction_metadata says
            source = self.interactions[interaction_id].payload
            message["interaction_metadata"] = {"id": interaction_id, "type": source["type"],
                                               "user": self._invoker(source),
                                               "authorizing_integration_owners":
                                                   source.get("authorizing_integration_owners", {})}
        return SentMessage(message, files, bool(flags & EPHEMERAL), interaction_id)

    def _wake_message_waiters(self) -> None:
        for waiter in self._message_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._message_waiters.clear()

    def _interaction_by_token(self, token: str) -> InteractionRecord:
        for record in self.interactions.values():
            if record.token == token:
                if self.clock() - record.created > self.token_lifetime:
                    raise DiscordError(401, 50027, "Invalid Webhook Token")
                return record
        raise DiscordError(404, 10015, "Unknown Webhook")

    async def _interaction_callback(self, request):
        record = self.interactions.get(request.match_info["id"])
        if record is None or record.token != request.match_info["token"]:
            raise DiscordError(404, 10062, "Unknown interaction")
        now = self.clock()
        if now - record.created > self.ack_window:
            raise DiscordError(404, 10062, "Unknown interaction")
        if record.acknowledged_at is not None:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        body, files = await self._read_message_body(request)
        kind = body.get("type")
        data = body.get("data") or {}
        if kind in (6, 7) and record.clicked is None:
            raise DiscordError(400, 50035, "Invalid Form Body: type: only a component interaction updates a message")
        if kind not in (4, 5, 6, 7):
            raise DiscordError(400, 50035, f"Invalid Form Body: type: {kind!r} is not a response this fake knows")
        if kind == 7:  # checked before the acknowledgement counts, as Discord refuses a bad one whole
            edited = self._edited(record.clicked, data)
            self._check_message(edited, files, record.payload["attachment_size_limit"])
        record.acknowledged_at, record.ack_type = now, kind
        record.ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
        if kind == 4:  # an immediate message
            self._check_message(data, files, record.payload["attachment_size_limit"])
            record.original = self._store_sent(data, files, record.payload["channel_id"],
                                               record.payload.get("guild_id"), record.id)
            record.replied.set()
        elif kind in (6, 7):  # @original is now the clicked message, which keeps its visibility
            record.original, record.ephemeral = record.clicked, record.clicked.ephemeral
            if kind == 7:
                self._update_in_place(record.clicked, edited, files)
                record.replied.set()
        self._wake_message_waiters()  # wait_until() on an acknowledgement must not wait out its timeout
        response = {"interaction": {"id": record.id, "type": record.payload["type"],
                                    "response_message_loading": kind == 5,
                                    "response_message_ephemeral": record.ephemeral},
                    "resource": {"type": kind}}
        if record.original is not None:
            response["interaction"]["response_message_id"] = record.original.payload["id"]
            response["resource"]["message"] = record.original.payload
        return json_response(response)

    async def _followup(self, request):
        record = self._interaction_by_token(request.match_info["token"])
        if record.acknowledged_at is None:
            raise DiscordError(404, 10015, "Unknown Webhook")
        payload, files = await self._read_message_body(request)
        self._check_message(payload, files, record.payload["attachment_size_limit"])
        sent = self._store_sent(payload, files, record.payload["channel_id"], record.payload.get("guild_id"),
                                record.id)
        if record.ack_type == 5 and record.original is None and not record.followups and not record.original_deleted:
            # The first followup after a deferral replaces the "thinking..." message and
            # keeps the deferral's visibility, as on Discord.
            sent.ephemeral = record.ephemeral
            sent.payload["flags"] = (sent.payload["flags"] | EPHEMERAL) if record.ephemeral else sent.payload["flags"]
            record.original = sent
        else:
            record.followups.append(sent)
        record.replied.set()
        self._wake_message_waiters()  # wait_until() checks again on interaction replies too
        return json_response(sent.payload)

    def _update_in_place(self, sent: SentMessage, edited: dict, files: list[tuple[str, bytes]]) -> None:
        edited["attachments"] = edited["attachments"] + [self._store_attachment(name, data, None)
                                                         for name, data in files]
        sent.payload.update(edited, edited_timestamp=p.iso_now())
        sent.files += files
        sent.edits.append((time.monotonic(), sent.content))
        self._wake_message_waiters()

    async def _edit_original(self, request):
        record = self._interaction_by_token(request.match_info["token"])
        if record.acknowledged_at is None or record.original_deleted:
            raise DiscordError(404, 10008, "Unknown Message")
        if record.ack_type in (6, 7):  # a component interaction's @original is the clicked message
            patch, files = await self._read_message_body(request)
            edited = self._edited(record.clicked, patch)
            self._check_message(edited, files, record.payload["attachment_size_limit"])
            self._update_in_place(record.clicked, edited, files)
            record.original_edits.append((time.monotonic(), record.clicked.content))
            record.replied.set()
            return json_response(record.clicked.payload)
        payload, files = await self._read_message_body(request)
        self._check_message(payload, files, record.payload["attachment_size_limit"])
        sent = self._store_sent(payload, files, record.payload["channel_id"], record.payload.get("guild_id"),
                                record.id)
        sent.ephemeral = record.ephemeral
        record.original = sent
        record.original_edits.append((time.monotonic(), payload.get("content") or ""))
        record.replied.set()
        self._wake_message_waiters()
        return json_response(sent.payload)

    async def _delete_original(self, request):
        record = self._interaction_by_token(request.match_info["token"])
        if record.acknowledged_at is None or record.original_deleted:
            raise DiscordError(404, 10008, "Unknown Message")
        record.original_deleted = True
        self._wake_message_waiters()
        return web.Response(status=204)

    async def _channel_message(self, request):
        channel_id = request.match_info["channel"]
        guild_id = self._sendable_guild(channel_id)
        payload, files = await self._read_message_body(request)
        self._check_message(payload, files, DEFAULT_FILE_LIMIT)
        sent = self._store_sent(payload, files, channel_id, guild_id)
        self.channel_messages.append(sent)
        self._count_message(channel_id, sent.payload["id"])
        self._wake_message_waiters()
        return json_response(sent.payload)

    def _bot_message(self, channel_id: str, message_id: str) -> SentMessage:
        """A non-ephemeral message the bot posted in that channel (interaction replies too)."""
        replies = [sent for record in self.interactions.values() for sent in record.replies]
        for sent in self.channel_messages + replies:
            if sent.payload["id"] == message_id and sent.payload["channel_id"] == channel_id and not sent.ephemeral:
                return sent
        raise DiscordError(404, 10008, "Unknown Message")

    def _edited(self, sent: SentMessage, patch: dict) -> dict:
        """The message's fields after a PATCH: fields it leaves out stay as they were."""
        edited = {"content": sent.content, "embeds": sent.embeds, "attachments": sent.payload["attachments"],
                  "components": sent.payload.get("components") or []}
        for key in ("content", "embeds", "components"):
            if key in patch:
                edited[key] = patch[key] or ("" if key == "content" else [])
        if "attachments" in patch:  # the old attachments to keep; new uploads come as files
            keep = {str(a.get("id")) for a in patch["attachments"] or []}
            edited["attachments"] = [a for a in sent.payload["attachments"] if a["id"] in keep]
        return edited

    async def _edit_channel_message(self, request):
        channel_id, message_id = request.match_info["channel"], request.match_info["message"]
        self._guild_of(channel_id)
        if self.user_messages.get(message_id, {}).get("channel_id") == channel_id:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        sent = self._bot_message(channel_id, message_id)
        patch, files = await self._read_message_body(request)
        edited = self._edited(sent, patch)
        self._check_message(edited, files, DEFAULT_FILE_LIMIT)  # an edit obeys the sending rules
        self._update_in_place(sent, edited, files)
        return json_response(sent.payload)

    async def _typing(self, request):
        channel_id = request.match_info["channel"]
        self._sendable_guild(channel_id)
        self.typing.append((channel_id, time.monotonic()))
        self._wake_message_waiters()
        return web.Response(status=204)

    def _thread_starter(self, channel_id: str, message_id: str) -> None:
        """Checks that a public thread may start from this message, as Discord does."""
        if not self.allow_threads:
            raise DiscordError(403, 50013, "Missing Permissions")
        if self._sendable_guild(channel_id) is None or channel_id in self.threads:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        if self.user_messages.get(message_id, {}).get("channel_id") != channel_id:
            self._bot_message(channel_id, message_id)
        if message_id in self.threads:
            raise DiscordError(400, 160004, "A thread has already been created for this message")

    async def _start_thread(self, request):
        channel_id, message_id = request.match_info["channel"], request.match_info["message"]
        self._thread_starter(channel_id, message_id)
        body = await request.json()
        name, duration = body.get("name") or "", body.get("auto_archive_duration") or 1440
        if not 1 <= len(name) <= 100:
            raise DiscordError(400, 50035, "Invalid Form Body: name: Must be between 1 and 100 in length.")
        if duration not in (60, 1440, 4320, 10080):
            raise DiscordError(400, 50035, "Invalid Form Body: auto_archive_duration: Value must be one of "
                                           "{60, 1440, 4320, 10080}.")
        # A thread started from a message shares the message's id (Discord's Threads topic).
        thread = p.thread_channel(message_id, self.guild_id, channel_id, self.app_id, name, duration,
                                  body.get("rate_limit_per_user") or 0)
        self.threads[message_id] = thread
        await self._dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return json_response(thread)

    async def _add_reaction(self, request):
        self.reactions.append((request.match_info["channel"], request.match_info["message"],
                               request.match_info["emoji"]))
        self._wake_message_waiters()
        return web.Response(status=204)

    async def _create_dm(self, request):
        body = await request.json()
        for user_payload in self.users.values():
            if user_payload["id"] == str(body.get("recipient_id")):
                return json_response(self.dm_channel_for(user_payload))
        raise DiscordError(400, 50033, "Invalid Recipient(s)")

    # ----- Gateway ---------------------------------------------------------------------
    def _session_for(self, guild_id: str | None) -> Session | None:
        """A server's events go to the connection holding its shard; DMs go to shard 0."""
        if not self.shard_sessions:
            return self.current_session
        count = next(iter(self.shard_sessions.values())).shard[1]
        return self.shard_sessions.get(shard_of(guild_id, count) if guild_id else 0)

    async def _dispatch(self, event: str, data: dict, message_event: bool = False,
                        session: Session | None = None) -> None:
        if session is None:
            guild_id = data.get("id") if event == "GUILD_CREATE" else data.get("guild_id")
            session = self._session_for(guild_id)
        if session is None:
            raise RuntimeError("no gateway connection holds the shard of this event")
        if message_event and not (session.intents & MESSAGE_CONTENT_INTENT):
            mentioned = any(u["id"] == self.app_id for u in data.get("mentions", []))
            if data.get("guild_id") and not mentioned:
                # Without the Message Content intent, Discord blanks these fields.
                data = {**data, "content": "", "attachments": [], "embeds": []}
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.sent.append(frame)
        if session.ws is not None and not session.ws.closed:
            await session.ws.send_str(json.dumps(frame))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms},
                                      "s": None, "t": None}))
        session: Session | None = None
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            op, data = frame.get("op"), frame.get("d")
            if op == 1:
                self.heartbeats.append(time.monotonic())
                await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
            elif op == 2:
                if data.get("token") != self.token:
                    await ws.close(code=4004, message=b"Authentication failed.")
                    break
                intents = int(data.get("intents", 0))
                if intents & MESSAGE_CONTENT_INTENT and not self.grant_message_content:
                    await ws.close(code=4014, message=b"Disallowed intent(s).")
                    break
                shard = tuple(data.get("shard") or (0, 1))
                if not self._identify_allowed(shard):
                    # Too soon after another identify in this bucket: Discord invalidates it.
                    await ws.send_str(json.dumps({"op": 9, "d": False, "s": None, "t": None}))
                    continue
                self.identifies += 1
                session = Session(p.snowflake(), intents, shard=shard, ws=ws)
                self.sessions[session.session_id] = session
                self.current_session = session
                self.shard_sessions[shard[0]] = session
                await self._send_ready(session)
            elif op == 6:
                session = self.sessions.get(data.get("session_id"))
                if session is None or data.get("token") != self.token:
                    await ws.send_str(json.dumps({"op": 9, "d": False, "s": None, "t": None}))
                    continue
                self.resumes += 1
                session.ws = ws
                self.current_session = session
                self.shard_sessions[session.shard[0]] = session
                for missed in [f for f in session.sent if f["s"] > int(data.get("seq") or 0)]:
                    await ws.send_str(json.dumps(missed))
                session.seq += 1
                await ws.send_str(json.dumps({"op": 0, "t": "RESUMED", "s": session.seq, "d": {}}))
        return ws

    def _identify_allowed(self, shard: tuple[int, int]) -> bool:
        shard_id, count = shard
        if not 0 <= shard_id < count:
            self.errors.append({"rule": "shard id out of range", "shard": list(shard)})
            return False
        if self.shard_sessions and next(iter(self.shard_sessions.values())).shard[1] != count:
            self.errors.append({"rule": "shard count differs between connections", "shard": list(shard)})
        bucket = shard_id % self.max_concurrency
        now = time.monotonic()
        last = self.last_identify.get(bucket)
        if last is not None and now - last < self.identify_window:
            self.rejected_identifies += 1
            self.errors.append({"rule": f"identify within {self.identify_window} s of another in bucket {bucket}",
                                "shard": list(shard)})
            return False
        self.last_identify[bucket] = now
        return True

    def guilds_of_shard(self, shard_id: int, shard_count: int) -> list[str]:
        return [g for g in self.all_guilds() if shard_of(g, shard_count) == shard_id]

    async def _send_ready(self, session: Session) -> None:
        shard_id, shard_count = session.shard
        ready = {
            "v": 10,
            "user": {**self.bot_user, "verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": g, "unavailable": True} for g in self.guilds_of_shard(shard_id, shard_count)],
            "session_id": session.session_id,
            "resume_gateway_url": self.gateway_url,
            "application": {"id": self.app_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "session_type": "normal",
            "auth_session_id_hash": "",
            "shard": [shard_id, shard_count],
        }
        await self._dispatch("READY", ready, session=session)
        for guild_id in self.guilds_of_shard(shard_id, shard_count):
            await self._dispatch("GUILD_CREATE", self._guild_payload(guild_id), session=session)
        self.ready.set()

"""Discord API object payloads, shaped as discord.py 2.x parses them."""
from __future__ import annotations

import itertools
import threading
import time
from datetime import datetime, timezone

DISCORD_EPOCH_MS = 1_420_070_400_000
_counter = itertools.count()
_lock = threading.Lock()

# Permission bits (Discord's documentation, "Permissions").
MANAGE_GUILD = 1 << 5
BASIC_MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 6) | (1 << 31)
ADMINISTRATOR = 1 << 3
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
PUBLIC_THREAD = 11  # channel type


def snowflake() -> str:
    """Snowflakes come from the clock: (ms since the Discord epoch) << 22, plus a counter."""
    with _lock:
        return str(((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(_counter) & 0x3FFFFF))


def iso_now() -> str:
    return datetime.now(timezone.utc).isoformat()


def user(user_id: str, name: str, bot: bool = False) -> dict:
    return {
        "id": user_id,
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
        "flags": 0,
    }


def member(user_payload: dict, permissions: int, roles: list[str] | None = None) -> dict:
    return {
        "user": user_payload,
        "nick": None,
        "avatar": None,
        "roles": roles or [],
        "joined_at": iso_now(),
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "permissions": str(permissions),
    }


def text_channel(channel_id: str, guild_id: str, name: str, position: int = 0) -> dict:
    return {
        "id": channel_id,
        "type": 0,
        "guild_id": guild_id,
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
    }


def dm_channel(channel_id: str, recipient: dict) -> dict:
    return {"id": channel_id, "type": 1, "recipients": [recipient], "last_message_id": None}


def group_dm_channel(channel_id: str, owner: dict, recipients: list[dict]) -> dict:
    """A group DM (type 3): the bot is not in it; a user who installed the app may use it there."""
    return {"id": channel_id, "type": 3, "name": "friends", "icon": None, "owner_id": owner["id"],
            "recipients": recipients, "last_message_id": None}


def thread_channel(thread_id: str, guild_id: str, parent_id: str, owner_id: str, name: str,
                   auto_archive_duration: int = 1440, rate_limit_per_user: int = 0) -> dict:
    """A public thread, as Start Thread from Message returns it and THREAD_CREATE carries it."""
    now = iso_now()
    return {
        "id": thread_id,
        "type": PUBLIC_THREAD,
        "guild_id": guild_id,
        "parent_id": parent_id,
        "owner_id": owner_id,
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": rate_limit_per_user,
        "flags": 0,
        "message_count": 0,
        "total_message_sent": 0,
        "member_count": 1,
        "thread_metadata": {"archived": False, "auto_archive_duration": auto_archive_duration,
                            "archive_timestamp": now, "locked": False, "create_timestamp": now},
        # The creator joins the thread; Discord returns its thread member object.
        "member": {"id": thread_id, "user_id": owner_id, "join_timestamp": now, "flags": 0},
    }


def role(role_id: str, name: str, permissions: int, position: int = 0) -> dict:
    return {
        "id": role_id,
        "name": name,
        "color": 0,
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def guild(guild_id: str, name: str, owner_id: str, channels: list[dict], members: list[dict], roles: list[dict],
          threads: list[dict] | None = None) -> dict:
    return {
        "id": guild_id,
        "name": name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "owner_id": owner_id,
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": roles,
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "large": False,
        "unavailable": False,
        "member_count": len(members),
        "members": members,
        "channels": channels,
        "threads": threads or [],  # the active threads
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "joined_at": iso_now(),
    }


def attachment(attachment_id: str, filename: str, size: int, url: str, content_type: str | None) -> dict:
    payload = {"id": attachment_id, "filename": filename, "size": size, "url": url, "proxy_url": url}
    if content_type:
        payload["content_type"] = content_type
    return payload


def message(message_id: str, channel_id: str, author: dict, content: str, *, guild_id: str | None = None,
            attachments: list[dict] | None = None, embeds: list[dict] | None = None, flags: int = 0,
            mentions: list[dict] | None = None, reference: dict | None = None,
            member_payload: dict | None = None, webhook_id: str | None = None) -> dict:
    payload = {
        "id": message_id,
        "channel_id": channel_id,
        "author": author,
        "content": content,
        "timestamp": iso_now(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": mentions or [],
        "mention_roles": [],
        "attachments": attachments or [],
        "embeds": embeds or [],
        "pinned": False,
        "type": 19 if reference else 0,
        "flags": flags,
        "components": [],
    }
    if guild_id:
        payload["guild_id"] = guild_id
    if member_payload:
        payload["member"] = {k: v for k, v in member_payload.items() if k != "user"}
    if reference:
        payload["message_reference"] = reference
    if webhook_id:
        payload["webhook_id"] = webhook_id
    return payload

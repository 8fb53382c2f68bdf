"""/config services: admins turn each service on or off for the server, a channel, or DMs."""
from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands.base import SERVICES, CommandContext, Option, OptionKind, PermissionDenied, command
from bot.reply import Reply
from ml.errors import InputError
from storage.service_switches import DMS, WHOLE_SERVER

if TYPE_CHECKING:
    from bot.app import App

STATES = {"on": True, "off": False, "default": None}
PLACES = ("server", "channel", "dm")


@command("config services", "Turn a service on or off for this server, a channel, or DMs (the friend's DM switch)",
         [Option("service", OptionKind.TEXT, "digit, tone, essay, track, friend, or all", max_length=10),
          Option("state", OptionKind.TEXT, "on, off, or default (a channel follows the server again)", max_length=7),
          Option("where", OptionKind.TEXT, "server (default), channel, or dm (the bot's owner only)",
                 required=False, max_length=7),
          Option("channel", OptionKind.CHANNEL, "The channel (default: this one)", required=False)],
         ephemeral=True, manage_server=True, operator_anywhere=True)
async def config_services(ctx: CommandContext, service: str, state: str, where: str | None = None,
                          channel: str | None = None) -> Reply:
    service, state = service.strip().lower().lstrip("/"), state.strip().lower()
    if service != "all" and service not in SERVICES:
        raise InputError(f"service is one of {', '.join(SERVICES)}, or all (not {service[:20]!r})")
    if state not in STATES:
        raise InputError("state is on, off or default")
    place = (where or ("channel" if channel else "server" if ctx.guild_id else "dm")).strip().lower()
    if place not in PLACES:
        raise InputError("where is server, channel or dm")
    chosen = list(SERVICES) if service == "all" else [service]
    enabled = STATES[state]

    if place == "dm":
        # DMs belong to no server: only whoever runs the bot decides there.
        if not ctx.is_operator:
            raise PermissionDenied("only the bot's owner can switch services in DMs")
        guild_id, channel_id, label = DMS, WHOLE_SERVER, "in DMs"
    elif ctx.guild_id is None:
        raise InputError(f"a {place} switch is set in a server: use it there, or where:dm")
    elif place == "server":
        guild_id, channel_id, label = ctx.guild_id, WHOLE_SERVER, "in this server"
    else:
        channel_id = channel or ctx.parent_channel_id or ctx.channel_id
        if channel_id is None:
            raise InputError("name a channel with channel:")
        guild_id, label = ctx.guild_id, f"in <#{channel_id}>"

    for name in chosen:
        await ctx.app.switches.set(guild_id, channel_id, name, enabled)
    names = ", ".join(f"/{name}" for name in chosen)
    if enabled is None:
        follows = "the server's switch" if place == "channel" else "the default (on)"
        text = f"{names} {label} now follow{'s' if len(chosen) == 1 else ''} {follows}."
    else:
        text = f"{names} {'is' if len(chosen) == 1 else 'are'} now {state} {label}."
        if enabled is False:
            text += " Members who use it are told an admin turned it off."
    return Reply(text=text, data={"services": chosen, "where": place, "channel_id": channel_id or None,
                                  "enabled": enabled})


async def describe_switches(app: "App", guild_id: str | None) -> dict:
    """For /config show: each service's server switch, the channels that differ, and DMs."""
    server = {name: True for name in SERVICES}
    channels: dict[str, list[str]] = {}
    for switch in await app.switches.listing(guild_id) if guild_id else []:
        if switch.channel_id == WHOLE_SERVER:
            server[switch.service] = switch.enabled
        else:
            channels.setdefault(switch.channel_id, []).append(f"{switch.service} {'on' if switch.enabled else 'off'}")
    dms = {name: True for name in SERVICES}
    for switch in await app.switches.listing(DMS):
        dms[switch.service] = switch.enabled
    lines = ["server: " + ", ".join(f"{name} {'on' if on else 'off'}" for name, on in server.items())]
    lines += [f"<#{channel}>: " + ", ".join(states) for channel, states in channels.items()]
    lines.append("DMs (the bot's owner): " + ", ".join(f"{name} {'on' if on else 'off'}" for name, on in dms.items()))
    lines.append("change with /config services")
    return {"text": "\n".join(lines),
            "data": {"server": server, "channels": channels, "dm": dms}}

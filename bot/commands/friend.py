"""/friend: talk with the friend, or set the persona it takes with you; /config friend-persona
sets a server's default. DMs and @mentions reach the same command (bot/adapters/discord_bot.py)."""
from __future__ import annotations

from bot.commands.base import CommandContext, Option, OptionKind, command
from bot.reply import Reply
from ml.errors import InputError
from ml.friend.conversation import DEFAULT_PERSONA, MAX_PERSONA_CHARS

RESET_WORDS = {"default", "reset", "off"}


def _persona_text(persona: str) -> str | None:
    """The persona to store, or None to go back to the default."""
    persona = persona.strip()
    if not persona:
        raise InputError("describe the persona, or use `default` to go back to the built-in one")
    return None if persona.lower() in RESET_WORDS else persona


def friend_reply(result: dict) -> Reply:
    text = result["reply"]
    if result.get("note"):
        text += f"\n-# ({result['note']})"
    return Reply(text=text, data=result)


@command(
    "friend",
    "Talk with your friend-as-a-bot (or DM it, or mention it), or set the persona it takes with you",
    [Option("message", OptionKind.TEXT, "What you want to say", required=False),
     Option("persona", OptionKind.TEXT, "Who the friend is with you (`default` resets it)", required=False,
            max_length=MAX_PERSONA_CHARS)],
    free_text="message",
)
async def friend(ctx: CommandContext, message: str | None = None, persona: str | None = None) -> Reply:
    user_key = ctx.app.user_key(ctx.adapter, ctx.user_id)
    persona_note = None
    if persona is not None:
        chosen = _persona_text(persona)
        await ctx.app.friend.memory.set_persona(f"user:{user_key}", chosen)
        persona_note = f"Persona set: {chosen}" if chosen else "Persona back to the default."
        if message is None:
            return Reply(text=persona_note, ephemeral=True, data={"persona": chosen or DEFAULT_PERSONA})
    if message is None:
        raise InputError("say something with message:, or set a persona with persona:")
    place = ctx.channel_id or ctx.user_id  # the CLI and console have no channel: one conversation per user
    result = await ctx.app.friend.chat(user_key=user_key, conversation=ctx.app.friend.conversation_id(ctx.adapter, place),
                                       speaker=ctx.user_name or "a friend", message=message,
                                       guild_id=ctx.guild_id, stream=ctx.reply_stream, variant=ctx.variant)
    reply = friend_reply(result)
    if persona_note:
        reply.text = f"-# ({persona_note})\n" + reply.text
    return reply


@command("config friend-persona", "The persona the friend takes in this server unless a member sets their own",
         [Option("persona", OptionKind.TEXT, "Who the friend is here (`default` resets it)",
                 max_length=MAX_PERSONA_CHARS)],
         ephemeral=True, manage_server=True)
async def config_friend_persona(ctx: CommandContext, persona: str) -> Reply:
    chosen = _persona_text(persona)
    await ctx.app.friend.memory.set_persona(f"guild:{ctx.guild_id}", chosen)
    return Reply(text=f"The friend's persona in this server: {chosen}" if chosen
                 else "The friend's persona in this server is back to the default.")

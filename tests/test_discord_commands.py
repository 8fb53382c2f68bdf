"""Slash commands are built from the same registry, with options Discord understands."""
import discord

from bot.commands import REGISTRY
from bot.discord_bot import reply_to_message_kwargs, slash_command
from bot.reply import Reply, ReplyFile


def test_every_registry_command_becomes_a_slash_command(app):
    client_tree = discord.app_commands.CommandTree(discord.Client(intents=discord.Intents.default()))
    for cmd in REGISTRY.values():
        client_tree.add_command(slash_command(app, cmd))
    payloads = {c.name: c.to_dict(client_tree) for c in client_tree.get_commands()}
    assert set(payloads) >= {"digit", "help", "about", "status", "forget"}
    option = payloads["digit"]["options"][0]
    assert option["name"] == "image" and option["type"] == 11 and option["required"] is True
    assert option["description"].startswith("A photo or drawing")


def test_reply_rendering_respects_discord_limits():
    long = Reply(title="t", text="x" * 5000, files=[ReplyFile("model-input.png", b"\x89PNG")])
    kwargs = reply_to_message_kwargs(long)
    assert len(kwargs["embed"].description) <= 4096
    assert [f.filename for f in kwargs["files"]] == ["model-input.png", "reply.txt"]
    assert kwargs["embed"].image.url == "attachment://model-input.png"
    error = reply_to_message_kwargs(Reply.error("the file is empty"))
    assert error["content"] == "the file is empty"

"""Slash command payloads and reply rendering, checked without a connection."""
import discord

from bot.commands import REGISTRY
from bot.adapters.discord_bot import MlBotClient, build_slash_commands
from bot.adapters.discord_render import CONTENT_LIMIT, render, split_text
from bot.reply import Reply, ReplyFile


def test_every_registry_command_becomes_a_slash_command(app):
    client = MlBotClient(app, discord.Intents.default())
    payloads = {c.name: c.to_dict(client.tree) for c in client.tree.get_commands()}
    assert set(payloads) == {"digit", "tone", "essay", "track", "friend", "help", "about", "status", "forget", "config", "stats",
                             "privacy", "mydata", "Check tone"}
    assert payloads["Check tone"]["type"] == 3  # a message context menu
    option = payloads["digit"]["options"][0]
    assert option["name"] == "image" and option["type"] == 11 and option["required"] is True
    assert option["description"].startswith("A photo or drawing")
    config = payloads["config"]
    assert int(config["default_member_permissions"]) == discord.Permissions(manage_guild=True).value
    subcommands = {o["name"]: o for o in config["options"]}
    assert set(subcommands) == {"show", "user-rate", "cooldown", "server-rate", "prefix", "tone-watch", "daily-track",
                                "friend-persona", "services"}
    services = [o["name"] for o in subcommands["services"]["options"]]
    assert services == ["service", "state", "where", "channel"]
    # /stats is for admins: Discord hides it from others and it is not offered in DMs.
    assert int(payloads["stats"]["default_member_permissions"]) == discord.Permissions(manage_guild=True).value
    assert payloads["stats"]["dm_permission"] is False
    daily = {o["name"]: o for o in subcommands["daily-track"]["options"]}
    assert daily["channel"]["type"] == 7 and not daily["channel"]["required"]  # a channel option
    seconds = subcommands["cooldown"]["options"][0]
    assert (seconds["type"], seconds["min_value"], seconds["max_value"]) == (4, 0, 3600)
    assert len(build_slash_commands(client, REGISTRY.values())) == 13
    essay = {o["name"]: o for o in payloads["essay"]["options"]}
    assert essay["topic"]["required"] and not essay["words"]["required"]
    assert (essay["words"]["type"], essay["words"]["min_value"], essay["words"]["max_value"]) == (4, 100, 1500)
    assert (essay["temperature"]["type"], essay["temperature"]["min_value"]) == (10, 0.2)  # a number option


def test_long_plain_text_is_split_at_line_breaks():
    text = "\n".join(f"line {i} " + "x" * 80 for i in range(40))  # ~3500 characters
    chunks = split_text(text)
    assert len(chunks) == 2 and all(len(c) <= CONTENT_LIMIT for c in chunks)
    assert all(c.startswith("line ") for c in chunks)
    assert "\n".join(chunks) == text


def test_very_long_plain_text_goes_into_a_file():
    text = "word " * 3000  # 15,000 characters: more than three messages
    outgoing = render(Reply(text=text))
    assert len(outgoing.messages) == 1
    message = outgoing.messages[0]
    assert len(message["content"]) <= CONTENT_LIMIT and "reply.md" in message["content"]
    assert [f.filename for f in message["files"]] == ["reply.md"]


def test_embed_limits_and_oversized_files():
    reply = Reply(title="t", text="x" * 5000, fields=[("f", "v")],
                  files=[ReplyFile("model-input.png", b"\x89PNG"), ReplyFile("huge.bin", bytes(8192))])
    message = render(reply, file_limit=6000).messages[0]
    embed = message["embed"]
    assert len(embed.description) <= 4096 and len(embed) <= 6000
    assert [f.filename for f in message["files"]] == ["model-input.png", "reply.md"]
    assert embed.image.url == "attachment://model-input.png"
    assert "huge.bin" in embed.footer.text


def test_errors_are_plain_one_liners():
    message = render(Reply.error("the file is empty")).messages[0]
    assert message["content"] == "the file is empty" and "embed" not in message

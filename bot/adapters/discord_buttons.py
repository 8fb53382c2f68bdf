"""Buttons under answers: "Regenerate" (/essay, /track, the friend's replies) and "Was this
right?" (/tone, /digit).

Every button is a discord.py DynamicItem whose custom_id (at most 100 characters) carries what
a click needs: who asked, and the options or the answer. Nothing is kept in memory per message,
so the buttons of answers sent before a restart keep working once the item classes are
registered again (MlBotClient.setup_hook). Only the one who asked may press them; anyone else
gets a one-line answer only they see.

"Was this right?" opens a panel only the asker sees (type 4, ephemeral); its buttons change the
panel in place (type 7): a tone label, or for /digit a keypad to type the right number, and a
"share" switch. The choice is stored by bot/commands/feedback.py.
"""
from __future__ import annotations

import json
import logging
import re
import secrets
from typing import TYPE_CHECKING, Any

import discord
from discord.ui import Button, DynamicItem

from bot.commands import CommandContext, REGISTRY
from bot.commands.feedback import MAX_DIGITS, TONE_LABELS, Answer, answer_of, record_feedback
from bot.reply import Reply
from ml.errors import InputError, UserFacingError
from storage.db import DatabaseError

if TYPE_CHECKING:
    from bot.adapters.discord_bot import MlBotClient
    from bot.app import App

log = logging.getLogger(__name__)

CUSTOM_ID_LIMIT = 100
NOT_YOURS = "Only the person who asked can use these buttons: run /{name} yourself for your own."
PANEL_GONE = "that answer can no longer be corrected: run the command again"


def _asker(interaction: discord.Interaction) -> str:
    return str(interaction.user.id)


class _AskerOnly:
    """Buttons under a shared answer: the asker's alone; anyone else is told so, privately."""

    asker: str
    command: str

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if _asker(interaction) == self.asker:
            return True
        await interaction.response.send_message(NOT_YOURS.format(name=self.command), ephemeral=True)
        return False


# ----- Regenerate ------------------------------------------------------------------------
class RegenerateTrack(_AskerOnly, DynamicItem[Button],
                      template=r"mlbot:rg:track:(?P<asker>\d+):(?P<seconds>\d+):(?P<instrument>[a-z]+):(?P<tempo>\d+)"):
    command = "track"

    def __init__(self, asker: str, seconds: int, instrument: str, tempo: int):
        self.asker, self.seconds, self.instrument, self.tempo = asker, seconds, instrument, tempo
        super().__init__(Button(label="Regenerate", emoji="\N{ANTICLOCKWISE DOWNWARDS AND UPWARDS OPEN CIRCLE ARROWS}",
                                style=discord.ButtonStyle.secondary,
                                custom_id=f"mlbot:rg:track:{asker}:{seconds}:{instrument}:{tempo}"))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: Button, match: re.Match[str], /):
        return cls(match["asker"], int(match["seconds"]), match["instrument"], int(match["tempo"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        async def arguments(ctx: CommandContext) -> dict[str, Any]:  # a new seed, the same options
            return {"seed": secrets.randbelow(2**31), "seconds": self.seconds, "instrument": self.instrument,
                    "tempo": self.tempo}
        await _client(interaction).answer_interaction(REGISTRY["track"], interaction, arguments)


def essay_ref(app: "App", result: dict) -> str:
    """A short keyed hash naming one essay among its asker's cached ones (the topic stays out of the id)."""
    identity = [result.get("topic"), result.get("style"), result.get("seed"), result.get("temperature"),
                result.get("top_p"), bool(result.get("ceremony"))]
    return app.keyed_hash("essay-ref:" + json.dumps(identity, sort_keys=True))[:16]


class RegenerateEssay(_AskerOnly, DynamicItem[Button],
                      template=r"mlbot:rg:essay:(?P<asker>\d+):(?P<words>\d+):(?P<ref>[0-9a-f]{16})"):
    command = "essay"

    def __init__(self, asker: str, words: int, ref: str):
        self.asker, self.words, self.ref = asker, words, ref
        super().__init__(Button(label="Regenerate", emoji="\N{ANTICLOCKWISE DOWNWARDS AND UPWARDS OPEN CIRCLE ARROWS}",
                                style=discord.ButtonStyle.secondary, custom_id=f"mlbot:rg:essay:{asker}:{words}:{ref}"))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: Button, match: re.Match[str], /):
        return cls(match["asker"], int(match["words"]), match["ref"])

    async def callback(self, interaction: discord.Interaction) -> None:
        app = _client(interaction).app

        async def arguments(ctx: CommandContext) -> dict[str, Any]:
            # The topic is found among the asker's cached essays: after /forget (or the
            # retention sweep) there is nothing to regenerate from, as it should be.
            user_key = app.user_key("discord", self.asker)
            for cached in await app.cache.of_user(user_key, "essay"):
                result = cached.result
                if essay_ref(app, result) == self.ref:
                    return {"topic": result["topic"], "words": self.words, "style": result["style"],
                            "seed": secrets.randbelow(2**31), "temperature": result["temperature"],
                            "top_p": result["top_p"], "opening": "ceremony" if result.get("ceremony") else "plain"}
            raise InputError("that essay is no longer stored (deleted or expired): run /essay again")
        await _client(interaction).answer_interaction(REGISTRY["essay"], interaction, arguments)


def friend_ref(app: "App", reply_text: str) -> str:
    """Names the friend's reply the button is under, so only the latest one is asked again."""
    return app.keyed_hash("friend-reply:" + reply_text)[:12]


class RegenerateFriend(_AskerOnly, DynamicItem[Button],
                       template=r"mlbot:rg:friend:(?P<asker>\d+):(?P<place>\d+):(?P<ref>[0-9a-f]{12})"):
    command = "friend"

    def __init__(self, asker: str, place: str, ref: str):
        self.asker, self.place, self.ref = asker, place, ref
        super().__init__(Button(label="Regenerate", emoji="\N{ANTICLOCKWISE DOWNWARDS AND UPWARDS OPEN CIRCLE ARROWS}",
                                style=discord.ButtonStyle.secondary, custom_id=f"mlbot:rg:friend:{asker}:{place}:{ref}"))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: Button, match: re.Match[str], /):
        return cls(match["asker"], match["place"], match["ref"])

    async def callback(self, interaction: discord.Interaction) -> None:
        app = _client(interaction).app
        user_key = app.user_key("discord", self.asker)
        conversation = app.friend.conversation_id("discord", self.place)
        taken: list = []

        async def arguments(ctx: CommandContext) -> dict[str, Any]:
            # The latest exchange is taken back and the message asked again, by the same
            # speaker, with another seed.
            last = await app.friend.memory.last_exchange(user_key, conversation)
            if last is None or friend_ref(app, last[1].content) != self.ref:
                raise InputError("only the friend's latest reply in a conversation can be regenerated")
            await app.friend.memory.take_back(user_key, [last[0].id, last[1].id])
            taken.append(last)
            ctx.user_name = last[0].speaker
            return {"message": last[0].content}

        async def put_back_if_failed(reply: Reply) -> None:
            if reply.is_error and taken:  # a refusal (switched off, busy...) keeps the old reply
                message, answer = taken[0]
                await app.friend.memory.add_exchange(user_key, conversation, message.speaker, message.content,
                                                     answer.content, [])

        await _client(interaction).answer_interaction(REGISTRY["friend"], interaction, arguments,
                                                      place=self.place, variant=1 + secrets.randbelow(2**31),
                                                      on_reply=put_back_if_failed)


# ----- Was this right? ---------------------------------------------------------------------
class AskFeedback(_AskerOnly, DynamicItem[Button],
                  template=r"mlbot:fb:(?P<service>tone|digit):(?P<asker>\d+):(?P<hash>[0-9a-f]{32}):(?P<answer>\w+)"):
    def __init__(self, asker: str, answer: Answer):
        self.asker, self.answer, self.command = asker, answer, answer.service
        super().__init__(Button(label="Was this right?", style=discord.ButtonStyle.secondary,
                                custom_id=f"mlbot:fb:{answer.service}:{asker}:{answer.input_hash}:{answer.model_answer}"))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: Button, match: re.Match[str], /):
        return cls(match["asker"], Answer(match["service"], match["hash"], match["answer"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        panel = FeedbackPanel(self.answer, share=False, typed="")
        await interaction.response.send_message(panel.text(), view=panel.view(), ephemeral=True)


class FeedbackPanel:
    """The state of one feedback panel, all of it in its buttons' custom_ids."""

    def __init__(self, answer: Answer, share: bool, typed: str):
        self.answer, self.share, self.typed = answer, share, typed

    def custom_id(self, action: str, share: bool | None = None, typed: str | None = None) -> str:
        share = self.share if share is None else share
        typed = self.typed if typed is None else typed
        a = self.answer
        return f"mlbot:fp:{a.service}:{action}:{int(share)}:{typed}:{a.input_hash}:{a.model_answer}"

    def text(self) -> str:
        a = self.answer
        what = "text" if a.service == "tone" else "picture (the 28x28 one I saw)"
        share = f"Share the {what} with the corrections: {'yes' if self.share else 'no'}."
        if a.service == "tone":
            said = a.model_answer.replace("_", "-")
            return f"I said it reads as {said}. Which label is right? (the same one if I was right)\n{share}"
        typed = self.typed or "…"
        return f"I read {a.model_answer}. If I was wrong, type the right number and press Send.\nTyped: {typed}\n{share}"

    def view(self) -> discord.ui.View:
        view = discord.ui.View(timeout=None)
        a = self.answer
        if a.service == "tone":
            for label in TONE_LABELS:
                style = discord.ButtonStyle.success if label == a.model_answer else discord.ButtonStyle.secondary
                view.add_item(FeedbackChoice(self.custom_id(label), label.replace("_", "-"), style, row=0))
        else:
            for digit in "0123456789":
                view.add_item(FeedbackChoice(self.custom_id(digit), digit, discord.ButtonStyle.secondary,
                                             row=0 if digit < "5" else 1, disabled=len(self.typed) >= MAX_DIGITS))
            view.add_item(FeedbackChoice(self.custom_id("back"), "Delete", discord.ButtonStyle.secondary, row=2,
                                         disabled=not self.typed))
            view.add_item(FeedbackChoice(self.custom_id("send"), f"Send {self.typed}".strip(),
                                         discord.ButtonStyle.primary, row=2, disabled=not self.typed))
            view.add_item(FeedbackChoice(self.custom_id("ok", typed=""), f"It was {a.model_answer}",
                                         discord.ButtonStyle.success, row=3))
        share_label = f"Share the {'text' if a.service == 'tone' else 'picture'}: {'yes' if self.share else 'no'}"
        view.add_item(FeedbackChoice(self.custom_id("share", share=not self.share), share_label,
                                     discord.ButtonStyle.secondary, row=4 if a.service == "digit" else 1))
        return view


class FeedbackChoice(DynamicItem[Button],
                     template=r"mlbot:fp:(?P<service>tone|digit):(?P<action>\w+):(?P<share>[01]):(?P<typed>\d*):"
                              r"(?P<hash>[0-9a-f]{32}):(?P<answer>\w+)"):
    """A button of the feedback panel. The panel is ephemeral: only the asker sees it, so no check."""

    def __init__(self, custom_id: str, label: str, style: discord.ButtonStyle, row: int | None = None,
                 disabled: bool = False):
        super().__init__(Button(label=label, style=style, custom_id=custom_id, disabled=disabled), row=row)

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: Button, match: re.Match[str], /):
        choice = cls(item.custom_id, item.label or "", item.style)
        choice.match = match
        return choice

    async def callback(self, interaction: discord.Interaction) -> None:
        m = self.match
        panel = FeedbackPanel(Answer(m["service"], m["hash"], m["answer"]), share=m["share"] == "1",
                              typed=m["typed"])
        action = m["action"]
        if action.isdigit() and panel.answer.service == "digit":
            panel.typed = (panel.typed + action)[:MAX_DIGITS]
        elif action == "back":
            panel.typed = panel.typed[:-1]
        elif action != "share":  # a choice: a tone label, "send" or "ok"
            label = {"send": panel.typed, "ok": panel.answer.model_answer}.get(action, action)
            await _record(interaction, panel, label)
            return
        # The panel's state lives in the custom_ids: the new ones replace it in place (type 7).
        if len(panel.custom_id("share", typed=panel.typed)) > CUSTOM_ID_LIMIT:
            panel.typed = panel.typed[:-1]
        await interaction.response.edit_message(content=panel.text(), view=panel.view())


async def _record(interaction: discord.Interaction, panel: FeedbackPanel, label: str) -> None:
    client = _client(interaction)
    ctx = CommandContext(client.app, "discord", _asker(interaction),
                         str(interaction.guild_id) if interaction.guild_id else None)
    try:
        line = await record_feedback(ctx, panel.answer, label, panel.share)
    except (UserFacingError, DatabaseError) as exc:
        line = str(exc)
    await interaction.response.edit_message(content=line, view=None)


def _client(interaction: discord.Interaction) -> "MlBotClient":
    return interaction.client  # type: ignore[return-value]


ITEMS = (RegenerateTrack, RegenerateEssay, RegenerateFriend, AskFeedback, FeedbackChoice)


def buttons_for(app: "App", command: str, reply: Reply, asker: str, place: str | None = None) -> discord.ui.View | None:
    """The buttons an answer of `command` gets, or None (errors and other commands get none).
    `place` is the friend's: the channel (or DM) id its conversation is kept under."""
    if reply.is_error or not isinstance(reply.data, dict):
        return None
    data = reply.data
    item: DynamicItem | None = None
    try:
        if command == "track":
            item = RegenerateTrack(asker, int(round(float(data["seconds"]))), str(data["instrument"]),
                                   int(data["tempo"]))
        elif command == "essay":
            item = RegenerateEssay(asker, int(data["asked_words"]), essay_ref(app, data))
        elif command == "friend" and place and place.isdigit() and data.get("reply"):
            item = RegenerateFriend(asker, place, friend_ref(app, data["reply"]))
        elif command in ("tone", "digit"):
            answer = answer_of(app, command, reply)
            item = AskFeedback(asker, answer) if answer is not None else None
    except (KeyError, TypeError, ValueError) as exc:  # an answer without what the button needs
        log.debug("/%s: no button (%r)", command, exc)
        return None
    if item is None or len(item.custom_id) > CUSTOM_ID_LIMIT:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(item)
    return view

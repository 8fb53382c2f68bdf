"""Feedback on /tone and /digit answers ("Was this right?"), and `feedback export` for retraining.

What identifies an answer is small enough for a button's custom_id (Discord allows 100
characters): the service, a keyed hash of the input and the model's answer. The text (or the
28x28 picture the model saw) is never put there: when the user ticks "share", it is taken from
the result the cache holds for them, so a result they deleted with /forget cannot be shared.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.commands.base import GROUP_DESCRIPTIONS, CommandContext, Option, OptionKind, command
from bot.reply import Reply
from ml.errors import InputError
from storage.feedback import Feedback

if TYPE_CHECKING:
    from bot.app import App

# The commands that take feedback, and the cache's name for each one's service.
CACHE_SERVICE = {"tone": "tone", "digit": "digits"}
TONE_LABELS = ("friendly", "neutral", "passive_aggressive", "hostile")
MAX_DIGITS = 12  # the longest correction of a /digit answer
GROUP_DESCRIPTIONS["feedback"] = "Users' corrections of answers (the operator's)"


@dataclass(frozen=True)
class Answer:
    """One model answer the user may correct."""
    service: str       # "tone" or "digit"
    input_hash: str    # a keyed hash of the input (32 hex characters)
    model_answer: str  # a tone label, or the digits read


def tone_input_hash(app: "App", text: str) -> str:
    return app.keyed_hash(f"feedback:tone:{text}")


def digit_input_hash(app: "App", picture: bytes) -> str:
    # The picture the model saw (28x28 per digit), not the upload: the cache keeps only that.
    return app.keyed_hash(f"feedback:digit:{hashlib.sha256(picture).hexdigest()}")


def answer_of(app: "App", service: str, reply: Reply) -> Answer | None:
    """The answer a /tone or /digit reply gave, or None when there is nothing to correct."""
    data = reply.data if isinstance(reply.data, dict) else {}
    if reply.is_error or not data:
        return None
    if service == "tone" and data.get("label") in TONE_LABELS and data.get("text"):
        return Answer("tone", tone_input_hash(app, data["text"]), data["label"])
    if service == "digit" and reply.files:
        read = data.get("digits") if data.get("digits") is not None else data.get("best_guess")
        if read is not None and str(read).isdigit():
            return Answer("digit", digit_input_hash(app, reply.files[0].data), str(read))
    return None


def check_label(service: str, label: str) -> str:
    label = label.strip()
    if service == "tone" and label not in TONE_LABELS:
        raise InputError(f"a tone label is one of {', '.join(TONE_LABELS)}")
    if service == "digit" and not (label.isdigit() and len(label) <= MAX_DIGITS):
        raise InputError(f"a correction of /digit is 1 to {MAX_DIGITS} digits")
    return label


async def shared_input(app: "App", user_key: str, answer: Answer) -> tuple[str | None, bytes | None]:
    """The text (tone) or picture (digit) behind the answer, from the user's own cached results."""
    for cached in await app.cache.of_user(user_key, CACHE_SERVICE[answer.service]):
        if answer.service == "tone" and cached.result.get("text") and \
                tone_input_hash(app, cached.result["text"]) == answer.input_hash:
            return cached.result["text"], None
        if answer.service == "digit" and cached.blob and digit_input_hash(app, cached.blob) == answer.input_hash:
            return None, cached.blob
    return None, None


async def record_feedback(ctx: CommandContext, answer: Answer, label: str, share: bool) -> str:
    """Store the user's label for an answer; returns the one line to show them."""
    label = check_label(answer.service, label)
    user_key = ctx.app.user_key(ctx.adapter, ctx.user_id)
    text, picture = await shared_input(ctx.app, user_key, answer) if share else (None, None)
    await ctx.app.feedback.record(user_key, Feedback(answer.service, answer.input_hash, answer.model_answer, label,
                                                     text, picture))
    shown = label.replace("_", "-")
    verdict = "that I was right" if label == answer.model_answer else f"that the answer is {shown}"
    what = "text" if answer.service == "tone" else "picture"
    if not share:
        sharing = f"your {what} was not kept"
    elif text is None and picture is None:
        sharing = f"your {what} is no longer stored (deleted or expired), so only its hash was kept"
    else:
        sharing = f"your {what} was kept with it"
    return f"Thanks: noted {verdict} ({sharing}). /mydata shows it, /forget deletes it."


@command("feedback export", "Every correction users sent with \"Was this right?\", for retraining (operator)",
         [Option("service", OptionKind.TEXT, "tone or digit (default: both)", required=False, max_length=8)],
         adapters=("console", "cli"))
async def feedback_export(ctx: CommandContext, service: str | None = None) -> Reply:
    wanted = None if service is None else service.strip().lower()
    if wanted is not None and wanted not in CACHE_SERVICE:
        raise InputError(f"feedback is kept for {' and '.join(CACHE_SERVICE)} only")
    rows = [entry.as_json() for entry in await ctx.app.feedback.export(wanted)]
    wrong = sum(1 for row in rows if not row["model_was_right"])
    lines = [f"{len(rows)} correction(s), {wrong} saying the model was wrong."]
    for row in rows[:20]:
        kept = " (text shared)" if "text" in row else " (picture shared)" if "picture_png_base64" in row else ""
        lines.append(f"{row['service']} {row['input_hash']}: model {row['model_answer']}, user {row['label']}{kept}")
    if len(rows) > 20:
        lines.append(f"... {len(rows) - 20} more: use --json for all of them")
    return Reply(text="\n".join(lines), data={"feedback": rows, "count": len(rows), "model_wrong": wrong})

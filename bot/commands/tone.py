"""/tone: passive aggression, hostility and sentiment, with the words that drove the verdict."""
from __future__ import annotations

from bot.commands.base import CommandContext, Option, OptionKind, command
from bot.reply import Reply

VERDICTS = {
    "passive_aggressive": "reads as passive-aggressive",
    "hostile": "reads as openly hostile",
    "friendly": "reads as friendly",
    "neutral": "reads as neutral",
}


def tone_reply(result: dict, cached: bool = False) -> Reply:
    lines = [f"This message {VERDICTS[result['label']]} "
             f"(passive aggression {result['passive_aggression']:.0%}, hostility {result['hostility']:.0%})."]
    if result.get("highlighted") and result.get("cues"):
        lines.append(f"> {result['highlighted'][:1500]}")
    if result.get("rewrite"):
        lines.append(f"A kinder way to say it: {result['rewrite']}")
    for note in result.get("notes", []):
        lines.append(f"({note})")
    fields = [("sentiment", result["sentiment"]),
              ("what drove it", ", ".join(f"\"{c['text']}\"" for c in result.get("cues", [])[:4]) or "-"),
              ("model", result.get("model_version", "") + (" (cached)" if cached else ""))]
    if result.get("low_confidence"):
        fields.insert(0, ("confidence", "low"))
    return Reply(title="Tone check", text="\n".join(lines), fields=fields, data={**result, "cached": cached})


@command("tone", "Check a message for passive aggression, hostility and sentiment",
         [Option("text", OptionKind.TEXT, "The message to check")], rate_limited=True)
async def tone(ctx: CommandContext, text: str) -> Reply:
    result, cached = await ctx.app.tone.check(text, ctx.app.user_key(ctx.adapter, ctx.user_id))
    return tone_reply(result, cached)

"""/essay: an essay on a topic, written by the LSTM trained on example essays."""
from __future__ import annotations

from bot.commands.base import CommandContext, Option, OptionKind, command
from bot.reply import Reply, ReplyFile
from ml.essay import DEFAULT_STYLE
from ml.errors import InputError
from ml.essay.plagiarism import MAX_COPIED_RUN
from ml.essay.request import MAX_TOPIC_CHARS, MAX_WORDS, MIN_WORDS, EssayRequest

# Above this the essay goes out as a .md file and the message shows its opening paragraph.
INLINE_LIMIT = 3500
OPENINGS = ("plain", "ceremony")


def essay_reply(result: dict, cached: bool = False) -> Reply:
    paragraphs = result["essay"].split("\n\n")
    fits = len(result["essay"]) <= INLINE_LIMIT
    text = result["essay"] if fits else paragraphs[0] + "\n\n*(the whole essay is in the attached file)*"
    plan = result["plan"]
    outline = "\n".join([f"**Thesis**: {plan['thesis']}"] + [f"{i}. {p}" for i, p in enumerate(plan["points"], 1)])
    fields = [
        ("plan", outline[:1000]),
        ("words", f"{result['words']} (asked {result['asked_words']})"),
        ("on topic", f"{result['on_topic']:.2f} (MiniLM similarity of the paragraphs to the topic)"),
        ("longest run copied from the corpus", f"{result['longest_copied_run']} words (the guard allows {MAX_COPIED_RUN})"),
        ("style / seed", f"{result['style']} / {result['seed']}"),
        ("model", result["model_version"] + (" (cached)" if cached else "")),
    ] + [("note", note) for note in result["notes"][:3]]
    files = [] if fits else [ReplyFile(_filename(result["title"]), result["markdown"].encode(), "the whole essay")]
    return Reply(title=result["title"], text=text, fields=fields, files=files, data={**result, "cached": cached})


def ceremony_asked(opening: str) -> bool:
    """The `opening` option: "plain" keeps the corpus's salutations out of the essay (the
    default), "ceremony" lets a style that has them (the addresses' "Mr. Speaker...") use them."""
    value = opening.strip().lower() or "plain"
    if value not in OPENINGS:
        raise InputError(f"opening must be {' or '.join(OPENINGS)} (not {opening[:20]!r})")
    return value == "ceremony"


def _filename(title: str) -> str:
    stem = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")
    return f"{'-'.join(filter(None, stem.split('-')))[:60] or 'essay'}.md"


@command(
    "essay",
    "Write an essay on a topic with the LSTM trained on example essays",
    [Option("topic", OptionKind.TEXT, "What the essay is about", max_length=MAX_TOPIC_CHARS),
     Option("words", OptionKind.INTEGER, f"Length in words ({MIN_WORDS}-{MAX_WORDS}, default 400)", required=False,
            min_value=MIN_WORDS, max_value=MAX_WORDS),
     Option("style", OptionKind.TEXT, f"Which trained style (default {DEFAULT_STYLE})", required=False, max_length=32),
     Option("seed", OptionKind.INTEGER, "Same seed, same essay (default 0)", required=False,
            min_value=0, max_value=2**31 - 1),
     Option("temperature", OptionKind.NUMBER, "0.2-1.5: lower is safer, higher is wilder (default 0.8)",
            required=False, min_value=0.2, max_value=1.5),
     Option("top_p", OptionKind.NUMBER, "0.5-1.0: sample from the likeliest words making up this share (default 0.92)",
            required=False, min_value=0.5, max_value=1.0),
     Option("opening", OptionKind.TEXT, "plain (default), or ceremony: allow the style's own salutations "
            "(\"Mr. Speaker...\")", required=False, max_length=16)],
    rate_limited=True,
)
async def essay(ctx: CommandContext, topic: str, words: int = 400, style: str = DEFAULT_STYLE, seed: int = 0,
                temperature: float = 0.8, top_p: float = 0.92, opening: str = "plain") -> Reply:
    request = EssayRequest(topic, words=words, seed=seed, temperature=temperature, top_p=top_p,
                           ceremony=ceremony_asked(opening))
    await ctx.report(f"Writing about {request.topic.strip()[:80]!r}...")
    result, cached = await ctx.app.essays.write(request, style.strip().lower() or DEFAULT_STYLE,
                                                ctx.app.user_key(ctx.adapter, ctx.user_id), ctx.report)
    return essay_reply({**result, "asked_words": words}, cached)

"""/track: a music clip composed by the GAN, as audio and MIDI."""
from __future__ import annotations

from bot.commands.base import CommandContext, Option, OptionKind, command
from bot.reply import Reply, ReplyFile
from ml.tracks import DEFAULT_TEMPO_BPM, MAX_CLIP_SECONDS, MAX_TEMPO_BPM, MIN_CLIP_SECONDS, MIN_TEMPO_BPM


def track_reply(result: dict, audio: bytes, midi: bytes, cached: bool = False) -> Reply:
    stem = f"track-{result['seed']}"
    metrics = result.get("metrics") or {}
    numbers = [(name, value) for name, value in metrics.items() if isinstance(value, (int, float))]
    figures = ", ".join(f"{name.replace('_', ' ')} {value:.2f}" for name, value in numbers[:4])
    fields = [("seed", str(result["seed"])),
              ("length", f"{result['seconds']:.0f} s at {result['tempo']} bpm, {result['instrument']}"),
              ("model", result["model_version"] + (" (cached)" if cached else ""))]
    if figures:
        fields.insert(2, ("figures", figures))
    files = [ReplyFile(f"{stem}.{result['audio_ext']}", audio, "the clip"),
             ReplyFile(f"{stem}.mid", midi, "the same music as MIDI")]
    return Reply(title=result["title"], text="Composed by the GAN: the same seed gives the same track.",
                 fields=fields, files=files, data={**result, "cached": cached})


@command(
    "track",
    "Compose a music clip with the GAN (audio + MIDI)",
    [Option("seed", OptionKind.INTEGER, "Same seed, same track (default: a new one)", required=False,
            min_value=0, max_value=2**31 - 1),
     Option("seconds", OptionKind.INTEGER, f"Length, {MIN_CLIP_SECONDS}-{MAX_CLIP_SECONDS} s (default 30)",
            required=False, min_value=MIN_CLIP_SECONDS, max_value=MAX_CLIP_SECONDS),
     Option("instrument", OptionKind.TEXT, "piano, organ, strings, flute, guitar, choir or chiptune", required=False,
            max_length=20),
     Option("tempo", OptionKind.INTEGER, f"Beats per minute, {MIN_TEMPO_BPM}-{MAX_TEMPO_BPM} (default {DEFAULT_TEMPO_BPM})",
            required=False, min_value=MIN_TEMPO_BPM, max_value=MAX_TEMPO_BPM)],
    rate_limited=True,
)
async def track(ctx: CommandContext, seed: int | None = None, seconds: int = 30, instrument: str = "piano",
                tempo: int = DEFAULT_TEMPO_BPM) -> Reply:
    import secrets

    seed = secrets.randbelow(2**31) if seed is None else seed
    result, audio, midi, cached = await ctx.app.tracks.compose(
        seed, seconds, instrument.strip().lower(), tempo, ctx.app.user_key(ctx.adapter, ctx.user_id))
    return track_reply(result, audio, midi, cached)

"""The track composer as the bot uses it: clips cached by (seed, options, model version),
composed through the inference backend (in this process, or a Serve deployment with
MLBOT_RAY_ADDRESS); audio and MIDI travel as one cached blob."""
from __future__ import annotations

from typing import TYPE_CHECKING

from bot.reply import Reply
from ml.tracks import PIPELINE_VERSION, SERVICE
from storage import cache_key

if TYPE_CHECKING:
    from bot.app import App

DAILY_SECONDS = 30


class TrackService:
    name = SERVICE

    def __init__(self, app: "App"):
        self.app = app

    async def compose(self, seed: int, seconds: int, instrument: str, tempo: int,
                      user_key: str | None) -> tuple[dict, bytes, bytes, bool]:
        """(result, audio, midi, served from cache?)."""
        from ml.tracks.options import validate_options

        validate_options(seconds, instrument, tempo)  # one-line errors before the model loads
        version = await self.app.inference.version(SERVICE)
        options = {"seconds": seconds, "instrument": instrument, "tempo": tempo, "pipeline": PIPELINE_VERSION}
        key = cache_key(SERVICE, version, str(seed), options)
        cached = await self.app.cache.get(key, user_key)
        if cached is not None and cached.blob is not None:
            split = cached.result["audio_bytes"]
            return cached.result, cached.blob[:split], cached.blob[split:], True
        result, audio, midi = await self.app.inference.call(SERVICE, "compose", key, seed, seconds, instrument, tempo)
        await self.app.cache.put(key, SERVICE, result["model_version"], result, audio + midi, user_key)
        return result, audio, midi, False

    async def daily_reply(self, seed: int, day: str) -> Reply:
        from bot.commands.track import track_reply

        result, audio, midi, _ = await self.compose(seed, DAILY_SECONDS, "piano", 100, None)
        reply = track_reply(result, audio, midi)
        reply.title = f"Track of the day, {day}: {result['title']}"
        return reply


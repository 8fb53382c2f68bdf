"""The track composer as the bot uses it: clips cached by (seed, options, model version),
composed off the loop; audio and MIDI travel as one cached blob."""
from __future__ import annotations

from typing import TYPE_CHECKING

from bot.model_slot import ModelSlot
from bot.reply import Reply
from ml.home import ModelRef
from ml.tracks import PIPELINE_VERSION, SERVICE
from storage import cache_key

if TYPE_CHECKING:
    from bot.app import App
    from ml.tracks.compose import TrackComposer

DAILY_SECONDS = 30


class TrackService:
    name = SERVICE

    def __init__(self, app: "App"):
        self.app = app
        self.slot: ModelSlot["TrackComposer"] = ModelSlot(
            app, SERVICE, _load_composer, "the track model is not built yet: run `mlbot train tracks` (about 20 min)")

    async def compose(self, seed: int, seconds: int, instrument: str, tempo: int,
                      user_key: str | None) -> tuple[dict, bytes, bytes, bool]:
        """(result, audio, midi, served from cache?)."""
        from ml.tracks.options import validate_options

        validate_options(seconds, instrument, tempo)  # one-line errors before the model loads
        composer = await self.slot.get()
        options = {"seconds": seconds, "instrument": instrument, "tempo": tempo, "pipeline": PIPELINE_VERSION}
        key = cache_key(SERVICE, composer.version, str(seed), options)
        cached = await self.app.cache.get(key, user_key)
        if cached is not None and cached.blob is not None:
            split = cached.result["audio_bytes"]
            return cached.result, cached.blob[:split], cached.blob[split:], True
        track = await self.app.runtime(SERVICE).run(key, composer.compose, seed, seconds, instrument, tempo)
        result = {"seed": track.seed, "seconds": track.seconds, "instrument": track.instrument, "tempo": track.tempo,
                  "title": track.title, "metrics": track.metrics, "model_version": track.model_version,
                  "audio_ext": track.audio_ext, "audio_bytes": len(track.audio)}
        await self.app.cache.put(key, SERVICE, track.model_version, result, track.audio + track.midi, user_key)
        return result, track.audio, track.midi, False

    async def daily_reply(self, seed: int, day: str) -> Reply:
        from bot.commands.track import track_reply

        result, audio, midi, _ = await self.compose(seed, DAILY_SECONDS, "piano", 100, None)
        reply = track_reply(result, audio, midi)
        reply.title = f"Track of the day, {day}: {result['title']}"
        return reply


def _load_composer(ref: ModelRef) -> "TrackComposer":
    from ml.tracks.compose import TrackComposer

    return TrackComposer(ref)

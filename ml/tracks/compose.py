"""Compose a clip: several generated phrases in a row, as audio and as the same music in MIDI.

The phrases come from a walk through the generator's latent space that starts at the seed's
point: each next latent is cos(a) * previous + sin(a) * fresh noise, which keeps every latent
standard normal (what the generator was trained on) while consecutive phrases stay related.
The phrase latent (the phrase's overall shape, shared by its bars) moves slowly, the per-bar
latents faster, so a clip keeps its character and its bars keep changing.
"""
from __future__ import annotations

import io
import math
import threading
from dataclasses import dataclass, field

import numpy as np

from ml.home import ModelRef
from ml.tracks import BARS, DEFAULT_TEMPO_BPM, LOWEST_PITCH, STEPS, STEPS_PER_BEAT
from ml.tracks.options import DEFAULT_INSTRUMENT, validate_options
from ml.tracks.pianoroll import flat_metrics

PHRASE_TURN = 0.45  # radians the phrase latent turns per phrase: related, not repeated
BAR_TURN = 1.0  # the bar latents turn faster: new bars over a familiar shape

# Tempo words (upper bounds in bpm) and a small vocabulary for titles.
TEMPO_WORDS = ((60, "Largo"), (76, "Adagio"), (108, "Andante"), (120, "Moderato"), (168, "Allegro"), (999, "Presto"))
TITLE_ADJECTIVES = ("Amber", "Quiet", "Northern", "Silver", "Wandering", "Distant", "Bright", "Hollow", "Gentle",
                    "Restless", "Golden", "Winter", "Lantern", "Velvet", "Morning", "Evening")
TITLE_NOUNS = ("Harbour", "Meadow", "Chorale", "Lanes", "River", "Hills", "Garden", "Bells", "Tide", "Orchard",
               "Window", "Road", "Candle", "Fields", "Song", "Steps")

# Krumhansl-Kessler key profiles, for telling C major from A minor (every phrase is in one).
_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass
class Track:
    seed: int
    seconds: float
    instrument: str
    tempo: int
    audio: bytes
    audio_ext: str  # "ogg"/"mp3" when ffmpeg exists, else "wav"
    midi: bytes  # a standard .mid file
    title: str
    metrics: dict  # roll metrics of the generated phrases, {metric: {track: value or None}}
    model_version: str
    timings: dict = field(default_factory=dict)  # seconds spent generating, rendering, encoding


def phrase_seconds(tempo: int) -> float:
    return STEPS / STEPS_PER_BEAT * 60.0 / tempo


def latent_walk(seed: int, phrases: int, z_phrase: int, z_bar: int) -> np.ndarray:
    """float32 [phrases, z_phrase + BARS * z_bar]: the seed's walk, the same for every call."""
    rng = np.random.default_rng([int(seed) & 0xFFFF_FFFF, 7])
    size = z_phrase + BARS * z_bar
    turn = np.r_[np.full(z_phrase, PHRASE_TURN), np.full(BARS * z_bar, BAR_TURN)]
    z = np.empty((phrases, size))
    z[0] = rng.standard_normal(size)
    for i in range(1, phrases):
        z[i] = np.cos(turn) * z[i - 1] + np.sin(turn) * rng.standard_normal(size)
    return z.astype(np.float32)


def _phrase_seed(seed: int, phrase: int) -> int:
    return (int(seed) & 0xFFFF_FFFF) * 1_000 + phrase


def key_and_mode(roll: np.ndarray) -> str:
    """"C major" or "A minor": the better match of the notes' durations to the key profiles."""
    sounding = (np.asarray(roll) > 0).sum(axis=(0, 1))  # [pitches]
    weights = np.bincount((LOWEST_PITCH + np.arange(len(sounding))) % 12, weights=sounding, minlength=12)
    if not weights.any():
        return "C major"
    major = np.corrcoef(weights, _MAJOR_PROFILE)[0, 1]
    minor = np.corrcoef(weights, np.roll(_MINOR_PROFILE, 9))[0, 1]  # tonic A = pitch class 9
    return "A minor" if minor > major else "C major"


def tempo_word(tempo: int) -> str:
    return next(word for limit, word in TEMPO_WORDS if tempo < limit)


def make_title(seed: int, roll: np.ndarray, tempo: int, instrument: str) -> str:
    """e.g. "Quiet Harbour: Andante in A minor for strings" (deterministic for seed and music)."""
    pick = np.random.default_rng([int(seed) & 0xFFFF_FFFF, 11])
    name = f"{TITLE_ADJECTIVES[pick.integers(len(TITLE_ADJECTIVES))]} {TITLE_NOUNS[pick.integers(len(TITLE_NOUNS))]}"
    return f"{name}: {tempo_word(tempo)} in {key_and_mode(roll)} for {instrument}"


def midi_bytes(pm) -> bytes:
    buffer = io.BytesIO()
    pm.write(buffer)
    return buffer.getvalue()


class TrackComposer:
    """Composes clips with a published generator; loads it on first use, once, thread-safely."""

    def __init__(self, ref: ModelRef):
        self.ref = ref
        self.version = ref.version
        self._lock = threading.Lock()
        self._generator = None

    @property
    def generator(self):
        if self._generator is None:
            with self._lock:
                if self._generator is None:
                    from ml.tracks.gan import load_generator

                    self._generator = load_generator(self.ref)
        return self._generator

    def generate(self, seed: int, phrases: int) -> np.ndarray:
        """uint8 rolls [phrases, TRACKS, STEPS, N_PITCHES] with harmony, along the seed's walk."""
        import torch

        from ml.tracks.gan import to_rolls

        generator = self.generator
        z = torch.from_numpy(latent_walk(seed, phrases, generator.z_phrase, generator.z_bar))
        with torch.inference_mode():
            # a phrase at a time, each with pitch noise of its own: a longer clip of the same
            # seed opens with the same phrases
            return np.concatenate([
                to_rolls(generator(z[i : i + 1], torch.ones(1), torch.Generator().manual_seed(_phrase_seed(seed, i))))
                for i in range(phrases)])

    def compose(self, seed: int, seconds: int, instrument: str = DEFAULT_INSTRUMENT,
                tempo: int = DEFAULT_TEMPO_BPM) -> Track:
        import time

        from ml.tracks.render import encode_clip, render_roll

        validate_options(seconds, instrument, tempo)
        instrument = instrument.strip().lower()
        started = time.perf_counter()
        phrases = self.generate(seed, math.ceil(seconds / phrase_seconds(tempo)))
        # one long roll, cut after the last 16th that the clip reaches: the MIDI holds
        # exactly the music of the audio
        steps = math.ceil(seconds * tempo * STEPS_PER_BEAT / 60.0 - 1e-9)
        clip = np.concatenate(list(phrases), axis=1)[:, :steps]
        generated = time.perf_counter()
        pm, audio = render_roll(clip, seconds, instrument, tempo_bpm=tempo)
        rendered = time.perf_counter()
        data, ext = encode_clip(audio)
        encoded = time.perf_counter()
        return Track(
            seed=int(seed), seconds=float(seconds), instrument=instrument, tempo=int(tempo),
            audio=data, audio_ext=ext, midi=midi_bytes(pm),
            title=make_title(seed, clip, tempo, instrument),
            metrics=flat_metrics(phrases), model_version=self.version,
            timings={"generate": round(generated - started, 4), "render": round(rendered - generated, 4),
                     "encode": round(encoded - rendered, 4)},
        )

"""Audio for a phrase: FluidSynth with pretty_midi's General MIDI soundfont when the library is
installed, a small numpy synthesiser otherwise; then loudness, fades and a file Discord takes.

The phrase is looped to fill exactly the asked length: one pass is rendered with its release
tail, and copies are overlap-added one phrase apart so that tails ring into the next pass.
"""
from __future__ import annotations

import copy
import functools
import importlib
import io
import logging
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ml.errors import InputError
from ml.tracks import (
    BEATS_PER_BAR,
    DEFAULT_TEMPO_BPM,
    MAX_CLIP_SECONDS,
    MAX_UPLOAD_BYTES,
    MIN_CLIP_SECONDS,
    STEPS_PER_BEAT,
    TRACKS,
)
from ml.tracks.pianoroll import midi_tempo, roll_to_midi

if TYPE_CHECKING:
    import pretty_midi

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_RATE = 22050
TARGET_DBFS = -16.0  # loudness of speech-and-music streams; a clip never beats -1 dBFS peaks
PEAK_CEILING_DBFS = -1.0
FADE_IN_MS = 30  # just enough to avoid a click
FADE_OUT_MS = 1500
# libvorbis refuses fixed bitrates it cannot reach at 22.05 kHz mono, so ogg asks for a VBR
# quality (q4 is about 64-80 kb/s there); lame's 96k is transparent enough for these clips.
# "bitexact": the Ogg muxer otherwise gives every file a random stream serial number, and the
# same seed must give the same bytes (the result cache and the tests rely on it).
BITEXACT = ["-fflags", "+bitexact", "-flags:a", "+bitexact"]
EXPORT_OPTIONS = {
    "ogg": {"codec": "libvorbis", "parameters": ["-q:a", "4", *BITEXACT]},
    "mp3": {"codec": "libmp3lame", "bitrate": "96k", "parameters": BITEXACT},
}


@dataclass(frozen=True)
class Timbre:
    """Numpy-synth voice: partial amplitudes, ADSR (seconds, sustain level) and colour."""

    partials: tuple[float, ...]
    attack: float
    decay: float
    sustain: float
    release: float
    fade: float = 0.0  # > 0: a struck/plucked string dies away with this time constant (s)
    darken: float = 0.0  # > 0: upper partials fade with this time constant (s)
    vibrato: float = 0.0  # depth as a fraction of the frequency
    gain: float = 1.0


@dataclass(frozen=True)
class Instrument:
    name: str
    program: int  # General MIDI program, 0-based
    timbre: Timbre


INSTRUMENTS: dict[str, Instrument] = {
    inst.name: inst
    for inst in (
        Instrument("piano", 0, Timbre((1, 0.5, 0.3, 0.18, 0.1, 0.06, 0.04), 0.005, 0.3, 0.55, 0.25, fade=1.6, darken=0.5)),
        Instrument("organ", 19, Timbre((1, 0.6, 0.45, 0.3, 0, 0.2, 0, 0.15), 0.03, 0.05, 0.95, 0.12, gain=0.7)),
        Instrument("strings", 48, Timbre((1, 0.55, 0.4, 0.3, 0.22, 0.16, 0.12, 0.08), 0.12, 0.2, 0.85, 0.35, vibrato=0.004)),
        Instrument("flute", 73, Timbre((1, 0.25, 0.12, 0.05), 0.06, 0.1, 0.9, 0.15, vibrato=0.003)),
        Instrument("guitar", 24, Timbre((1, 0.7, 0.45, 0.3, 0.2, 0.12, 0.08), 0.003, 0.15, 0.4, 0.3, fade=0.9, darken=0.25)),
        Instrument("choir", 52, Timbre((1, 0.35, 0.5, 0.15, 0.08, 0.05), 0.15, 0.2, 0.8, 0.4, vibrato=0.006)),
        Instrument("chiptune", 80, Timbre((1, 0, 0.33, 0, 0.2, 0, 0.14, 0, 0.11), 0.005, 0.05, 0.7, 0.05, gain=0.6)),
    )
}
DEFAULT_INSTRUMENT = "piano"


class InstrumentUnknown(InputError):
    def __init__(self, name: str):
        self.name = name
        super().__init__(f"unknown instrument {name!r}; choose one of: {', '.join(INSTRUMENTS)}")


def instrument(name: str) -> Instrument:
    try:
        return INSTRUMENTS[name.strip().lower()]
    except KeyError:
        raise InstrumentUnknown(name) from None


def programs_for(name: str, tracks: int = len(TRACKS)) -> tuple[int, ...]:
    """GM programs for roll_to_midi: the instrument plays every track."""
    return (instrument(name).program,) * tracks


# ----------------------------------------------------------------------------- backends


@functools.lru_cache(maxsize=1)
def fluidsynth_available() -> bool:
    """pyfluidsynth imports only when the C library (Debian libfluidsynth3) is installed."""
    try:
        importlib.import_module("fluidsynth")
        import pretty_midi.fluidsynth as pm_fluidsynth
    except Exception:  # ImportError, or OSError from a broken library
        return False
    return Path(pm_fluidsynth.__file__).with_name(pm_fluidsynth.DEFAULT_SF2).is_file()


def _notes(pm: "pretty_midi.PrettyMIDI", until: float) -> np.ndarray:
    """float [k, 4]: start, end, MIDI pitch, velocity of pitched notes starting before `until`."""
    rows = [
        (n.start, n.end, n.pitch, n.velocity)
        for inst in pm.instruments
        if not inst.is_drum
        for n in inst.notes
        if n.start < until
    ]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


@functools.lru_cache(maxsize=None)
def _wavetables(timbre: Timbre, size: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """(full, dark) single-cycle waves; dark keeps the lowest two partials."""
    x = np.arange(size) / size
    waves = []
    for partials in (timbre.partials, timbre.partials[:2]):
        wave = sum(a * np.sin(2 * np.pi * (h + 1) * x) for h, a in enumerate(partials) if a)
        waves.append((wave / np.abs(wave).max()).astype(np.float32))
    return waves[0], waves[1]


def synth_numpy(pm: "pretty_midi.PrettyMIDI", timbre: Timbre, sample_rate: int, until: float) -> np.ndarray:
    """One pass of the notes starting before `until`, with their release tails.

    Every sample of every note is computed in one vectorised sweep (note index and time within
    the note per sample, a wavetable lookup, the envelope) and summed with bincount."""
    notes = _notes(pm, until)
    if not len(notes):
        return np.zeros(int(round(until * sample_rate)), dtype=np.float32)
    start, end, pitch, velocity = notes.T
    held = np.maximum(end - start, 1.0 / sample_rate)
    lengths = np.ceil((held + timbre.release) * sample_rate).astype(np.int64)
    first = np.rint(start * sample_rate).astype(np.int64)
    total = int(lengths.sum())
    note = np.repeat(np.arange(len(notes)), lengths)
    offsets = np.cumsum(lengths) - lengths
    local = np.arange(total, dtype=np.int64) - offsets[note]
    t = local / sample_rate

    freq = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
    f = freq[note]
    cycles = f * t
    if timbre.vibrato:
        rate = 5.5
        cycles += f * timbre.vibrato * (1 - np.cos(2 * np.pi * rate * t)) / (2 * np.pi * rate)
    full, dark = _wavetables(timbre)
    index = ((cycles % 1.0) * len(full)).astype(np.int64) % len(full)
    wave = full[index]
    if timbre.darken:
        bright = np.exp(-t / timbre.darken)
        wave = bright * wave + (1 - bright) * dark[index]

    hold_t = np.minimum(t, held[note])
    envelope = np.minimum(
        hold_t / timbre.attack,
        1.0 - (1.0 - timbre.sustain) * np.clip((hold_t - timbre.attack) / timbre.decay, 0.0, 1.0),
    )
    if timbre.fade:
        envelope *= np.exp(-hold_t / timbre.fade)
    released = np.clip(1.0 - (t - held[note]) / timbre.release, 0.0, 1.0)
    loudness = (velocity / 127.0) ** 1.5 * timbre.gain
    samples = wave * envelope * released * loudness[note]

    size = max(int(round(until * sample_rate)), int((first + lengths).max()))
    return np.bincount(first[note] + local, weights=samples, minlength=size).astype(np.float32)


def synth_fluidsynth(pm: "pretty_midi.PrettyMIDI", program: int, sample_rate: int) -> np.ndarray:
    """One pass through FluidSynth with pretty_midi's bundled TimGM6mb soundfont."""
    voiced = copy.deepcopy(pm)
    for inst in voiced.instruments:
        if not inst.is_drum:
            inst.program = program
    audio = voiced.fluidsynth(fs=sample_rate)
    return np.asarray(audio, dtype=np.float32)


# ----------------------------------------------------------------------------- render


def loop_seconds(pm: "pretty_midi.PrettyMIDI") -> float:
    """The phrase's length: its last note's end rounded up to whole 4/4 bars at its tempo, so
    that a phrase ending in rests still loops on the beat."""
    bar = BEATS_PER_BAR * 60.0 / midi_tempo(pm)
    end = pm.get_end_time()
    return max(1, int(np.ceil(end / bar - 1e-6))) * bar


def _loop(one_pass: np.ndarray, period: int, length: int) -> np.ndarray:
    out = np.zeros(length + len(one_pass), dtype=np.float32)
    for begin in range(0, length, period):
        out[begin : begin + len(one_pass)] += one_pass
    return out[:length]


def render_audio(
    pm: "pretty_midi.PrettyMIDI",
    seconds: float,
    instrument_name: str = DEFAULT_INSTRUMENT,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    backend: str = "auto",
    phrase_seconds: float | None = None,
) -> np.ndarray:
    """float32 mono, exactly round(seconds * sample_rate) samples, peaks at 0.9: the phrase
    played on the instrument and looped. backend: "auto" (FluidSynth if it works, else numpy),
    "fluidsynth" or "numpy"."""
    chosen = instrument(instrument_name)
    if not MIN_CLIP_SECONDS <= seconds <= MAX_CLIP_SECONDS:
        raise InputError(f"a clip lasts {MIN_CLIP_SECONDS} to {MAX_CLIP_SECONDS} seconds, not {seconds:g}")
    if backend not in ("auto", "fluidsynth", "numpy"):
        raise ValueError(f"unknown backend {backend!r}")
    period = phrase_seconds or loop_seconds(pm)
    length = int(round(seconds * sample_rate))
    one_pass = None
    if backend == "fluidsynth" or (backend == "auto" and fluidsynth_available()):
        try:
            one_pass = synth_fluidsynth(pm, chosen.program, sample_rate)
        except Exception:
            if backend == "fluidsynth":
                raise
            log.warning("FluidSynth failed; using the numpy synthesiser", exc_info=True)
    if one_pass is None:
        one_pass = synth_numpy(pm, chosen.timbre, sample_rate, until=period)
    audio = _loop(one_pass, max(1, int(round(period * sample_rate))), length)
    peak = float(np.abs(audio).max())
    return audio * np.float32(0.9 / peak) if peak > 0 else audio


# ----------------------------------------------------------------------------- encode


def ffmpeg_path() -> str | None:
    return shutil.which("ffmpeg") or shutil.which("avconv")


def _audio_segment(samples: np.ndarray, sample_rate: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydub warns at import when ffmpeg is missing
        from pydub import AudioSegment
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    return AudioSegment(data=pcm.tobytes(), sample_width=2, frame_rate=sample_rate, channels=1)


def encode_clip(
    samples: np.ndarray,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    fmt_preference: Sequence[str] = ("ogg", "mp3"),
    target_dbfs: float = TARGET_DBFS,
) -> tuple[bytes, str]:
    """(file bytes, extension): loudness-normalised, faded, as the first format of
    fmt_preference that ffmpeg manages, else WAV. Never more than Discord's 10 MiB."""
    segment = _audio_segment(np.asarray(samples, dtype=np.float32), sample_rate)
    if segment.rms > 0:
        gain = min(target_dbfs - segment.dBFS, PEAK_CEILING_DBFS - segment.max_dBFS)
        segment = segment.apply_gain(gain)
    segment = segment.fade_in(min(FADE_IN_MS, len(segment) // 10)).fade_out(min(FADE_OUT_MS, len(segment) // 4))

    encoded = None
    converter = ffmpeg_path()
    if converter:
        segment.converter = converter
        for fmt in fmt_preference:
            if fmt not in EXPORT_OPTIONS:
                continue
            try:
                buffer = io.BytesIO()
                segment.export(buffer, format=fmt, **EXPORT_OPTIONS[fmt])
                encoded = (buffer.getvalue(), fmt)
                break
            except Exception:  # an ffmpeg built without that encoder
                log.warning("could not encode %s with %s; trying the next format", fmt, converter, exc_info=True)
    if encoded is None:
        buffer = io.BytesIO()
        segment.export(buffer, format="wav")  # pydub writes WAV itself, no ffmpeg needed
        encoded = (buffer.getvalue(), "wav")
    if len(encoded[0]) > MAX_UPLOAD_BYTES:
        raise InputError(f"the clip would be {len(encoded[0]) / 2**20:.1f} MiB, over Discord's 10 MiB")
    return encoded


def render_roll(
    roll: np.ndarray,
    seconds: float,
    instrument_name: str = DEFAULT_INSTRUMENT,
    tempo_bpm: float | None = None,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
) -> tuple["pretty_midi.PrettyMIDI", np.ndarray]:
    """(MIDI, audio) of one roll [tracks, steps, pitches] at the tempo, looped to `seconds`."""
    tempo = tempo_bpm or DEFAULT_TEMPO_BPM
    pm = roll_to_midi(roll, tempo_bpm=tempo, programs=programs_for(instrument_name, len(roll)))
    phrase = roll.shape[-2] / STEPS_PER_BEAT * 60.0 / tempo
    return pm, render_audio(pm, seconds, instrument_name, sample_rate, phrase_seconds=phrase)

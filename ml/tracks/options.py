"""What a user may ask of the composer, checked without loading torch or the model."""
from __future__ import annotations

from numbers import Real

from ml.errors import InputError
from ml.tracks import DEFAULT_TEMPO_BPM, MAX_CLIP_SECONDS, MAX_TEMPO_BPM, MIN_CLIP_SECONDS, MIN_TEMPO_BPM
from ml.tracks.render import DEFAULT_INSTRUMENT, INSTRUMENTS, InstrumentUnknown

__all__ = [
    "DEFAULT_INSTRUMENT", "DEFAULT_TEMPO_BPM", "INSTRUMENTS", "InstrumentUnknown", "MAX_CLIP_SECONDS",
    "MAX_TEMPO_BPM", "MIN_CLIP_SECONDS", "MIN_TEMPO_BPM", "validate_options",
]


def _number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def validate_options(seconds: int, instrument: str, tempo: int) -> None:
    """Raise InputError (one line fit for a user) if a clip cannot be made with these options."""
    if not _number(seconds) or not MIN_CLIP_SECONDS <= seconds <= MAX_CLIP_SECONDS:
        raise InputError(f"a clip lasts {MIN_CLIP_SECONDS} to {MAX_CLIP_SECONDS} seconds, not {seconds}")
    if not _number(tempo) or not MIN_TEMPO_BPM <= tempo <= MAX_TEMPO_BPM:
        raise InputError(f"the tempo is {MIN_TEMPO_BPM} to {MAX_TEMPO_BPM} beats per minute, not {tempo}")
    if not isinstance(instrument, str) or instrument.strip().lower() not in INSTRUMENTS:
        raise InstrumentUnknown(str(instrument))

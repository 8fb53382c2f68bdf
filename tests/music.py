"""Hand-written phrases for the track tests (numpy only, so render tests load no torch)."""
from __future__ import annotations

import numpy as np

from ml.tracks import HARMONY, LOWEST_PITCH, MELODY, N_PITCHES, STEPS, TRACKS
from ml.tracks.pianoroll import write_notes


def c_major_phrase(repeated_note: bool = False) -> np.ndarray:
    """A C major scale in 8ths over four bars of block chords; `repeated_note` plays E twice
    (two notes of one pitch in a row, which a roll must keep apart)."""
    roll = np.zeros((len(TRACKS), STEPS, N_PITCHES), dtype=np.uint8)
    scale = [60, 62, 64, 64, 65, 67, 69, 71] if repeated_note else [60, 62, 64, 65, 67, 69, 71, 72]
    write_notes(roll[MELODY], np.array([[2 * i, 2 * i + 2, scale[i % 8] - LOWEST_PITCH] for i in range(32)]))
    for bar, chord in enumerate([(48, 52, 55), (53, 57, 60), (55, 59, 62), (48, 52, 55)]):
        write_notes(roll[HARMONY], np.array([[16 * bar, 16 * bar + 16, p - LOWEST_PITCH] for p in chord]))
    return roll

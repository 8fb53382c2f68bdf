"""Piano rolls <-> pretty_midi, and the roll metrics that compare generated phrases with real ones.

A roll is [tracks, steps, pitches] (metrics also take a batch [n, tracks, steps, pitches]).
Cells are SILENT / HOLD / ONSET (uint8) or a bool "sounding" roll. A note starts on an ONSET
cell or on a sounding cell after a silent one, and lasts while the following cells are HOLD;
so a bool roll reads as one note per contiguous run, and an uint8 roll keeps repeated notes of
one pitch apart. Round trip: midi_to_roll(roll_to_midi(r)) == r for every roll whose notes all
start with an ONSET (what midi_to_roll and the data preparation produce).
"""
from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ml.tracks import (
    C_MAJOR_PITCH_CLASSES,
    DEFAULT_TEMPO_BPM,
    HOLD,
    LOWEST_PITCH,
    N_PITCHES,
    ONSET,
    STEPS,
    STEPS_PER_BAR,
    STEPS_PER_BEAT,
    TRACKS,
)

if TYPE_CHECKING:
    import pretty_midi

log = logging.getLogger(__name__)

DEFAULT_PROGRAMS = (0, 0)  # acoustic grand piano for both tracks
DEFAULT_VELOCITIES = (100, 76)  # harmony a little softer so the tune stands out
QUALIFIED_MIN_STEPS = 2


def step_seconds(tempo_bpm: float) -> float:
    return 60.0 / tempo_bpm / STEPS_PER_BEAT


# ----------------------------------------------------------------------------- notes


def note_starts(roll: np.ndarray) -> np.ndarray:
    """bool, same shape as roll [..., steps, pitches]: where a note begins."""
    roll = np.asarray(roll)
    active = roll > 0
    before = np.zeros_like(active)
    before[..., 1:, :] = active[..., :-1, :]
    return active & ((roll == ONSET) | ~before)


def track_notes(track: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start_step, end_step, pitch_index) of the notes of one track [steps, pitches], by start."""
    track = np.asarray(track)
    steps, pitches = track.shape
    starts = note_starts(track)
    ends = ~(track > 0) | starts  # a note stops at silence or where the next one starts
    # pitch-major flat indices, with an extra "end" cell closing every pitch row
    closed = np.concatenate([ends.T, np.ones((pitches, 1), bool)], axis=1).ravel()
    opened = np.concatenate([starts.T, np.zeros((pitches, 1), bool)], axis=1).ravel()
    end_cells = np.flatnonzero(closed)
    start_cells = np.flatnonzero(opened)
    stop_cells = end_cells[np.searchsorted(end_cells, start_cells, side="right")]
    pitch, start = np.divmod(start_cells, steps + 1)
    end = stop_cells - pitch * (steps + 1)
    order = np.lexsort((pitch, start))
    return start[order], end[order], pitch[order]


def write_notes(track: np.ndarray, notes: np.ndarray) -> None:
    """Draw notes (int [k, 3]: start_step, end_step, pitch_index) into an uint8 track
    [steps, pitches], clipped to the track. ONSET wins over HOLD where notes touch or overlap."""
    steps = track.shape[0]
    for start, end, pitch in notes:
        start, end = max(int(start), 0), min(int(end), steps)
        if start >= steps or end <= start:
            continue
        track[start, pitch] = ONSET
        held = track[start + 1 : end, pitch]
        np.maximum(held, HOLD, out=held)


def fold_pitches(midi: np.ndarray, lowest: int = LOWEST_PITCH, count: int = N_PITCHES) -> np.ndarray:
    """Move MIDI pitches outside [lowest, lowest + count) into it by whole octaves (count >= 12)."""
    midi = np.asarray(midi, dtype=np.int64)
    below = -((midi - lowest) // 12)  # octaves to add to reach `lowest`
    above = (midi - (lowest + count - 12)) // 12  # octaves to drop to get under the top
    return midi + 12 * np.maximum(below, 0) - 12 * np.maximum(above, 0)


# ----------------------------------------------------------------------------- MIDI


def roll_to_midi(
    roll: np.ndarray,
    tempo_bpm: float = DEFAULT_TEMPO_BPM,
    programs: Sequence[int] = DEFAULT_PROGRAMS,
    velocities: Sequence[int] = DEFAULT_VELOCITIES,
    lowest_pitch: int = LOWEST_PITCH,
) -> "pretty_midi.PrettyMIDI":
    """One instrument per track (named after TRACKS), one MIDI note per roll note."""
    import pretty_midi

    roll = np.asarray(roll)
    if roll.ndim != 3:
        raise ValueError(f"a roll is [tracks, steps, pitches], got shape {roll.shape}")
    if len(programs) < len(roll) or len(velocities) < len(roll):
        raise ValueError(f"need a program and a velocity for each of the {len(roll)} tracks")
    step = step_seconds(tempo_bpm)
    pm = pretty_midi.PrettyMIDI(initial_tempo=float(tempo_bpm))
    for index, track in enumerate(roll):
        name = TRACKS[index] if index < len(TRACKS) else f"track {index}"
        instrument = pretty_midi.Instrument(program=int(programs[index]), name=name)
        for start, end, pitch in zip(*track_notes(track)):
            instrument.notes.append(
                pretty_midi.Note(
                    velocity=int(velocities[index]),
                    pitch=int(pitch) + lowest_pitch,
                    start=float(start) * step,
                    end=float(end) * step,
                )
            )
        pm.instruments.append(instrument)
    return pm


def midi_tempo(pm: "pretty_midi.PrettyMIDI", default: float = DEFAULT_TEMPO_BPM) -> float:
    _, tempi = pm.get_tempo_changes()
    return float(tempi[0]) if len(tempi) else default


def midi_to_roll(
    pm: "pretty_midi.PrettyMIDI",
    tempo_bpm: float | None = None,
    steps: int = STEPS,
    tracks: int = len(TRACKS),
    lowest_pitch: int = LOWEST_PITCH,
    n_pitches: int = N_PITCHES,
) -> np.ndarray:
    """uint8 [tracks, steps, n_pitches] from the first `steps` 16ths of pm (at its first tempo
    unless given). Instrument i fills track i; extra instruments join the last track; drums
    are ignored; pitches outside the range are folded in by octaves."""
    tempo = tempo_bpm or midi_tempo(pm)
    step = step_seconds(tempo)
    roll = np.zeros((tracks, steps, n_pitches), dtype=np.uint8)
    melodic = [inst for inst in pm.instruments if not inst.is_drum]
    for index, instrument in enumerate(melodic):
        if not instrument.notes:
            continue
        times = np.array([(n.start, n.end) for n in instrument.notes], dtype=np.float64)
        pitch = np.array([n.pitch for n in instrument.notes], dtype=np.int64)
        start = np.rint(times[:, 0] / step).astype(np.int64)
        end = np.maximum(np.rint(times[:, 1] / step).astype(np.int64), start + 1)
        pitch = fold_pitches(pitch, lowest_pitch, n_pitches) - lowest_pitch
        order = np.argsort(start, kind="stable")
        notes = np.stack([start, end, pitch], axis=1)[order]
        write_notes(roll[min(index, tracks - 1)], notes)
    return roll


# ----------------------------------------------------------------------------- metrics
# Each returns one float per track (NaN where a track has nothing to measure), averaged over
# every phrase of the batch; compare a generator's figures with the training data's.


def _batch(roll: np.ndarray) -> np.ndarray:
    roll = np.asarray(roll)
    if roll.ndim not in (3, 4):
        raise ValueError(f"expected [tracks, steps, pitches] or a batch of them, got {roll.shape}")
    return roll[None] if roll.ndim == 3 else roll


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator = numerator.astype(np.float64)
    denominator = denominator.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)


def empty_beat_rate(roll: np.ndarray, steps_per_beat: int = STEPS_PER_BEAT) -> np.ndarray:
    """Share of beats (4 steps) in which the track plays nothing; MuseGAN's empty-bar rate at
    beat resolution, since a 4-bar phrase has too few bars to tell much."""
    sounding = (_batch(roll) > 0).any(axis=-1)  # [n, tracks, steps]
    n, tracks, steps = sounding.shape
    beats = sounding.reshape(n, tracks, steps // steps_per_beat, steps_per_beat).any(axis=-1)
    return 1.0 - beats.mean(axis=(0, 2))


def pitch_classes_per_bar(
    roll: np.ndarray, steps_per_bar: int = STEPS_PER_BAR, lowest_pitch: int = LOWEST_PITCH
) -> np.ndarray:
    """Mean number of distinct pitch classes sounding in a bar, over the bars where the track
    plays (empty bars are what empty_beat_rate measures)."""
    sounding = _batch(roll) > 0
    n, tracks, steps, pitches = sounding.shape
    per_bar = sounding.reshape(n, tracks, steps // steps_per_bar, steps_per_bar, pitches).any(axis=3)
    classes = np.zeros((pitches, 12), dtype=np.int64)
    classes[np.arange(pitches), (lowest_pitch + np.arange(pitches)) % 12] = 1
    used = (per_bar.astype(np.int64) @ classes > 0).sum(axis=-1)  # [n, tracks, bars]
    playing = per_bar.any(axis=-1)
    return _ratio((used * playing).sum(axis=(0, 2)), playing.sum(axis=(0, 2)))


def qualified_note_rate(roll: np.ndarray, min_steps: int = QUALIFIED_MIN_STEPS) -> np.ndarray:
    """Share of notes lasting at least min_steps 16ths. MuseGAN counts notes of at least
    3 steps on its 24-a-beat grid (a 32nd) as qualified; on a 16th grid every note lasts at
    least a 16th, so the default asks for an 8th (2 steps), which separates the single-step
    specks a generator leaves from real notes. Notes starting in the last min_steps - 1 steps
    are cut by the phrase end and not counted."""
    roll = _batch(roll)
    starts = note_starts(roll)
    held = (roll > 0) & ~starts
    steps = roll.shape[-2]
    counted = starts[..., : steps - min_steps + 1, :]
    qualified = counted.copy()
    for k in range(1, min_steps):
        qualified &= held[..., k : steps - min_steps + 1 + k, :]
    return _ratio(qualified.sum(axis=(0, 2, 3)), counted.sum(axis=(0, 2, 3)))


def polyphony_rate(roll: np.ndarray, min_pitches: int = 2) -> np.ndarray:
    """Share of sounding steps where at least min_pitches pitches sound together (MuseGAN's
    polyphonicity, over sounding steps so silence does not lower it)."""
    count = (_batch(roll) > 0).sum(axis=-1)  # [n, tracks, steps]
    return _ratio((count >= min_pitches).sum(axis=(0, 2)), (count >= 1).sum(axis=(0, 2)))


def in_scale_rate(
    roll: np.ndarray,
    scale: Sequence[int] = C_MAJOR_PITCH_CLASSES,
    lowest_pitch: int = LOWEST_PITCH,
) -> np.ndarray:
    """Share of notes whose pitch class is in the scale (C major = A natural minor, the key
    every training phrase is moved to; the raised 7th of minor keys counts as outside)."""
    starts = note_starts(_batch(roll)).sum(axis=(0, 2))  # [tracks, pitches]
    inside = np.isin((lowest_pitch + np.arange(starts.shape[-1])) % 12, list(scale))
    return _ratio(starts[:, inside].sum(axis=-1), starts.sum(axis=-1))


def roll_metrics(roll: np.ndarray, track_names: Sequence[str] = TRACKS) -> dict[str, dict[str, float]]:
    """All metrics, {metric: {track: value}}; NaN where a track is empty."""
    metrics = {
        "empty_beat_rate": empty_beat_rate(roll),
        "pitch_classes_per_bar": pitch_classes_per_bar(roll),
        "qualified_note_rate": qualified_note_rate(roll),
        "polyphony_rate": polyphony_rate(roll),
        "in_scale_rate": in_scale_rate(roll),
    }
    return {
        name: {track: float(value) for track, value in zip(track_names, values)}
        for name, values in metrics.items()
    }


def flat_metrics(rolls: np.ndarray) -> dict[str, float | None]:
    """roll_metrics flattened and rounded: {"melody_empty_beat_rate": 0.02, ...}; None where a
    track never plays. The one form the evaluation, the composer and the replies use."""
    return {f"{track}_{metric}": (None if math.isnan(value) else round(value, 4))
            for metric, values in roll_metrics(rolls).items() for track, value in values.items()}

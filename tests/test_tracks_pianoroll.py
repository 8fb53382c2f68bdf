"""Rolls <-> MIDI round trips and the roll metrics on hand-made phrases with known answers."""
from __future__ import annotations

import io
import math

import numpy as np
import pretty_midi
import pytest

from ml.tracks import HARMONY, HOLD, LOWEST_PITCH, MELODY, N_PITCHES, ONSET, STEPS, TRACKS
from ml.tracks.pianoroll import (
    empty_beat_rate,
    fold_pitches,
    in_scale_rate,
    midi_to_roll,
    note_starts,
    pitch_classes_per_bar,
    polyphony_rate,
    qualified_note_rate,
    roll_metrics,
    roll_to_midi,
    track_notes,
    write_notes,
)

C4, E4, G4, FS4 = (p - LOWEST_PITCH for p in (60, 64, 67, 66))


def empty_roll() -> np.ndarray:
    return np.zeros((len(TRACKS), STEPS, N_PITCHES), dtype=np.uint8)


def random_roll(seed: int) -> np.ndarray:
    """Notes of random length on random pitches, many touching or repeating one pitch."""
    rng = np.random.default_rng(seed)
    roll = empty_roll()
    for track in range(len(TRACKS)):
        pitches = rng.integers(0, N_PITCHES, size=6)
        for pitch in pitches:
            step = int(rng.integers(0, 4))
            while step < STEPS:
                length = int(rng.integers(1, 9))
                if rng.random() < 0.7:
                    write_notes(roll[track], np.array([[step, step + length, pitch]]))
                step += length
    return roll


def through_file(pm: pretty_midi.PrettyMIDI) -> pretty_midi.PrettyMIDI:
    buffer = io.BytesIO()
    pm.write(buffer)
    buffer.seek(0)
    return pretty_midi.PrettyMIDI(buffer)


@pytest.mark.parametrize("seed", range(5))
def test_roll_to_midi_to_roll_is_exact_even_through_a_midi_file(seed):
    roll = random_roll(seed)
    assert (roll == ONSET).sum() > 20 and (roll == HOLD).sum() > 20
    for tempo in (100, 137.5):
        back = midi_to_roll(through_file(roll_to_midi(roll, tempo_bpm=tempo)))
        np.testing.assert_array_equal(back, roll)


def test_midi_to_roll_to_midi_to_roll_is_exact():
    step = 60 / 120 / 4
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    melody, harmony = pretty_midi.Instrument(0), pretty_midi.Instrument(0)
    # two repeated C4 quarter notes, then an E4 8th, then G4 held to the phrase end
    for start, end, pitch in [(0, 4, 60), (4, 8, 60), (8, 10, 64), (10, 64, 67)]:
        melody.notes.append(pretty_midi.Note(100, pitch, start * step, end * step))
    for start, end, pitch in [(0, 16, 48), (0, 16, 52), (16, 17, 55), (17, 32, 55)]:
        harmony.notes.append(pretty_midi.Note(80, pitch, start * step, end * step))
    pm.instruments += [melody, harmony]

    roll = midi_to_roll(pm)
    again = roll_to_midi(roll, tempo_bpm=120)
    np.testing.assert_array_equal(midi_to_roll(through_file(again)), roll)
    for original, copy in zip(pm.instruments, again.instruments):
        key = lambda n: (round(n.start, 6), n.pitch)  # noqa: E731
        assert [(round(n.start, 6), round(n.end, 6), n.pitch) for n in sorted(original.notes, key=key)] == [
            (round(n.start, 6), round(n.end, 6), n.pitch) for n in sorted(copy.notes, key=key)
        ]
    assert len(again.instruments[MELODY].notes) == 4  # the repeated C4 stays two notes


def test_a_bool_roll_reads_as_one_note_per_run():
    track = np.zeros((STEPS, N_PITCHES), dtype=bool)
    track[0:4, C4] = True
    track[6:7, C4] = True
    track[2:10, E4] = True
    start, end, pitch = track_notes(track)
    assert list(zip(start, end, pitch)) == [(0, 4, C4), (2, 10, E4), (6, 7, C4)]


def test_onsets_split_held_notes_and_a_hold_after_silence_starts_a_note():
    track = np.zeros((STEPS, N_PITCHES), dtype=np.uint8)
    track[0:8, C4] = [ONSET, HOLD, HOLD, ONSET, HOLD, 0, HOLD, HOLD]
    start, end, _ = track_notes(track)
    assert list(zip(start, end)) == [(0, 3), (3, 5), (6, 8)]
    assert note_starts(track)[:8, C4].tolist() == [True, False, False, True, False, False, True, False]


def test_pitches_outside_the_range_fold_in_by_octaves():
    folded = fold_pitches(np.array([23, 35, 36, 83, 84, 100]))
    assert folded.tolist() == [47, 47, 36, 83, 72, 76]


def known_roll() -> np.ndarray:
    """Melody: C4 quarter notes through bars 1-2, bars 3-4 silent.
    Harmony: a C-E-G whole note in bar 1, then one 16th F#4, nothing else."""
    roll = empty_roll()
    write_notes(roll[MELODY], np.array([[s, s + 4, C4] for s in range(0, 32, 4)]))
    write_notes(roll[HARMONY], np.array([[0, 16, C4], [0, 16, E4], [0, 16, G4], [16, 17, FS4]]))
    return roll


def test_metrics_on_a_hand_made_roll():
    roll = known_roll()
    np.testing.assert_allclose(empty_beat_rate(roll), [8 / 16, 11 / 16])
    np.testing.assert_allclose(pitch_classes_per_bar(roll), [1.0, (3 + 1) / 2])
    np.testing.assert_allclose(qualified_note_rate(roll), [1.0, 3 / 4])
    np.testing.assert_allclose(polyphony_rate(roll), [0.0, 16 / 17])
    np.testing.assert_allclose(in_scale_rate(roll), [1.0, 3 / 4])
    # every note lasts at least one 16th by construction
    np.testing.assert_allclose(qualified_note_rate(roll, min_steps=1), [1.0, 1.0])


def test_metrics_of_a_batch_pool_its_phrases_and_an_empty_track_gives_nan():
    other = empty_roll()
    write_notes(other[MELODY], np.array([[0, 1, FS4], [1, 2, C4]]))
    batch = np.stack([known_roll(), other])
    np.testing.assert_allclose(qualified_note_rate(batch)[MELODY], 8 / 10)
    np.testing.assert_allclose(in_scale_rate(batch)[MELODY], 9 / 10)
    np.testing.assert_allclose(empty_beat_rate(batch)[HARMONY], (11 + 16) / 32)
    metrics = roll_metrics(other)
    assert math.isnan(metrics["polyphony_rate"]["harmony"])
    assert math.isnan(metrics["in_scale_rate"]["harmony"])
    assert metrics["empty_beat_rate"]["harmony"] == 1.0
    assert set(metrics) == {
        "empty_beat_rate", "pitch_classes_per_bar", "qualified_note_rate", "polyphony_rate", "in_scale_rate",
    }


def test_a_speckled_roll_scores_worse_than_real_notes():
    rng = np.random.default_rng(0)
    specks = (rng.random((len(TRACKS), STEPS, N_PITCHES)) < 0.05).astype(np.uint8)
    assert qualified_note_rate(specks).max() < 0.2
    assert in_scale_rate(specks).max() < 0.75

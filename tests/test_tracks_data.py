"""Phrase preparation from the music21 corpus: a tiny real run, the cache, the split, the grid."""
from __future__ import annotations

import numpy as np
import pytest

from ml.tracks import HARMONY, MELODY, N_PITCHES, ONSET, STEPS, TRACKS
from ml.tracks import data
from ml.tracks.data import (
    Work,
    is_held_out,
    list_works,
    phrase_starts,
    prepare_rolls,
    transpose_interval,
)

TINY = 6  # two works of each source: a few seconds of parsing


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cache = tmp_path_factory.mktemp("tracks-cache")
    calls = []
    rolls = prepare_rolls(cache, max_works=TINY, on_progress=lambda done, total: calls.append((done, total)))
    return cache, rolls, calls


def test_a_tiny_real_prepare_makes_phrases_of_the_right_shape(tiny):
    _, rolls, calls = tiny
    assert rolls.rolls.shape[1:] == (len(TRACKS), STEPS, N_PITCHES)
    assert rolls.rolls.dtype == np.uint8 and len(rolls) >= 5
    assert set(np.unique(rolls.rolls)) <= {0, 1, 2}
    sounding = rolls.rolls > 0
    # every phrase has a melody sounding at least half the time, one note at a time
    assert (sounding[:, MELODY].any(axis=-1).mean(axis=-1) >= 0.5).all()
    assert sounding[:, MELODY].sum(axis=-1).max() == 1
    # chorales bring a harmony track, folk tunes none
    chorale = rolls.sources == "chorales"
    assert chorale.any() and (~chorale).any()
    assert sounding[chorale, HARMONY].any(axis=(1, 2)).all()
    assert not sounding[~chorale, HARMONY].any()
    np.testing.assert_array_equal(rolls.has_harmony, chorale)
    assert calls[0] == (0, TINY) and calls[-1] == (TINY, TINY) and len(calls) == TINY + 1


def test_phrases_are_in_c_major_or_a_minor(tiny):
    _, rolls, _ = tiny
    starts = (rolls.rolls == ONSET).sum(axis=(0, 1, 2))
    white = np.isin((36 + np.arange(N_PITCHES)) % 12, [0, 2, 4, 5, 7, 9, 11])
    assert starts[white].sum() / starts.sum() > 0.85


def test_the_second_prepare_loads_the_cache_without_parsing(tiny, monkeypatch):
    cache, rolls, _ = tiny
    assert len(list(cache.glob("tracks-rolls-*.npz"))) == 1
    assert not list(cache.glob(".*tmp"))

    def no_parsing(work):
        raise AssertionError(f"parsed {work.name} although the cache was there")

    monkeypatch.setattr(data, "parse_work", no_parsing)
    again = prepare_rolls(cache, max_works=TINY)
    np.testing.assert_array_equal(again.rolls, rolls.rolls)
    np.testing.assert_array_equal(again.held_out, rolls.held_out)
    assert again.works == rolls.works and again.stats == rolls.stats


def test_another_config_or_a_torn_cache_is_rebuilt(tiny, tmp_path):
    cache, rolls, _ = tiny
    (tmp_path / next(cache.glob("*.npz")).name).write_bytes(b"not a zip file")
    rebuilt = prepare_rolls(tmp_path, max_works=TINY)
    np.testing.assert_array_equal(rebuilt.rolls, rolls.rolls)
    other = prepare_rolls(tmp_path, max_works=TINY, hop_bars=4)
    assert len(other) < len(rolls)  # fewer, non-overlapping phrases
    assert len(list(tmp_path.glob("*.npz"))) == 2


def test_a_work_that_fails_to_parse_is_skipped(tmp_path, monkeypatch, caplog):
    real_parse = data.parse_work
    broken = data.select_works(TINY)[0].name

    def flaky(work):
        if work.name == broken:
            raise ValueError("bad file")
        return real_parse(work)

    monkeypatch.setattr(data, "parse_work", flaky)
    rolls = prepare_rolls(tmp_path, max_works=TINY)
    assert broken not in rolls.works and len(rolls) > 0
    assert rolls.stats["per_source"]["chorales"]["failed"] == 1
    assert broken in caplog.text


HELD_OUT_AMONG_FIRST_60 = ["essen/x#4", "essen/x#11", "essen/x#38", "essen/x#41", "essen/x#43", "essen/x#47",
                           "essen/x#54", "essen/x#55"]


def test_the_split_is_by_work_and_deterministic(tiny):
    _, rolls, _ = tiny
    groups = {w.name: w.group for source in data.SOURCES for w in data.select_works(TINY, (source,))}
    for index, name in enumerate(rolls.works):
        phrases = rolls.held_out[rolls.work == index]
        assert (phrases == is_held_out(groups[name])).all()
    names = [f"essen/x#{i}" for i in range(3000)]
    share = np.mean([is_held_out(n) for n in names])
    assert 0.08 < share < 0.12
    # Fixed by the name's hash alone: these are held out on every machine and in every run.
    assert [n for n in names[:60] if is_held_out(n)] == HELD_OUT_AMONG_FIRST_60


def test_versions_of_one_chorale_share_a_group():
    groups = {w.path.stem: w.group for w in list_works("chorales")}
    assert groups["bwv248.23-2"] == groups["bwv248.23-s"] == "chorales/bwv248.23"
    tunes = list_works("oneills")
    assert len({w.number for w in tunes}) == len(tunes)  # overlapping files count once


def test_selection_is_bounded_and_shared_between_sources():
    works = data.select_works(30)
    assert len(works) == 30
    assert {s: sum(w.source == s for w in works) for s in data.SOURCES} == dict.fromkeys(data.SOURCES, 10)
    assert works == data.select_works(30)
    assert isinstance(works[0], Work)


def test_transposition_brings_every_key_signature_to_c():
    # D major / B minor (2 sharps) down 2; F (1 flat) down 5; Bb (2 flats) up 2; E (4 sharps) down 4
    assert [transpose_interval(s) for s in (0, 2, -1, -2, 4, 6, -6)] == [0, -2, -5, 2, -4, -6, -6]
    for sharps in range(-7, 8):
        shift = transpose_interval(sharps)
        assert -6 <= shift <= 5 and ((7 * sharps) + shift) % 12 == 0


def test_phrases_start_on_bar_lines_of_duple_meters_only():
    four = [(4.0 * i, 4.0, 4.0) for i in range(8)]
    assert phrase_starts(four, hop_quarters=8) == [0.0, 8.0, 16.0]
    # a chorale: pickup, bars, then a bar split at a fermata into 3 + 1 beats
    chorale = [(0, 1, 4), (1, 4, 4), (5, 4, 4), (9, 3, 4), (12, 1, 4), (13, 4, 4), (17, 4, 4), (21, 4, 4)]
    assert phrase_starts([tuple(map(float, m)) for m in chorale], 8) == [1.0, 9.0]
    two_four = [(2.0 * i, 2.0, 2.0) for i in range(12)]
    assert phrase_starts(two_four, 8) == [0.0, 8.0]
    three_four = [(3.0 * i, 3.0, 0.0) for i in range(12)]  # bar 0: not a kept meter
    assert phrase_starts(three_four, 8) == []
    # a repeat sign shifts the bar lines by half a beat: no phrase may straddle it
    shifted = [(0, 4, 4), (4, 4, 4), (8, 3.5, 4), (11.5, 4, 4), (15.5, 4, 4), (19.5, 4, 4), (23.5, 4, 4)]
    assert phrase_starts([tuple(map(float, m)) for m in shifted], 8) == [11.5]

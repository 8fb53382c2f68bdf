"""Audio rendering (numpy synth, FluidSynth where installed) and encoding for Discord."""
from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from ml.errors import InputError
from ml.tracks import MAX_UPLOAD_BYTES, MELODY, N_PITCHES, STEPS, TRACKS
from ml.tracks import render
from ml.tracks.pianoroll import roll_to_midi, write_notes
from ml.tracks.render import (
    INSTRUMENTS,
    InstrumentUnknown,
    encode_clip,
    fluidsynth_available,
    render_audio,
    render_roll,
)
from tests.music import c_major_phrase

SR = 22050


def phrase() -> np.ndarray:
    return c_major_phrase(repeated_note=False)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


@pytest.mark.parametrize("name", sorted(INSTRUMENTS))
def test_numpy_synth_fills_exactly_the_asked_length_with_sound(name):
    _, audio = render_roll(phrase(), 12.34, name, tempo_bpm=120, sample_rate=SR)
    assert audio.dtype == np.float32 and audio.shape == (round(12.34 * SR),)
    assert rms(audio) > 0.05 and np.abs(audio).max() <= 0.9 + 1e-6
    # sound in every second: the 8 s phrase looped instead of trailing into silence
    seconds = audio[: 12 * SR].reshape(12, SR)
    assert min(rms(s) for s in seconds) > 0.01


def test_instruments_sound_different():
    a = render_roll(phrase(), 10, "piano", sample_rate=SR)[1]
    b = render_roll(phrase(), 10, "organ", sample_rate=SR)[1]
    assert rms(a - b) > 0.05


def test_the_loop_repeats_the_phrase_one_phrase_apart():
    roll = np.zeros((len(TRACKS), STEPS, N_PITCHES), dtype=np.uint8)
    write_notes(roll[MELODY], np.array([[0, 8, 24], [8, 16, 28]]))  # bar 1 only, tails die in bar 2
    _, audio = render_roll(roll, 20, "organ", tempo_bpm=120, sample_rate=SR)
    period = 8 * SR  # four 4/4 bars at 120 bpm
    np.testing.assert_allclose(audio[period : 2 * period], audio[:period], atol=1e-6)
    assert rms(audio[: 2 * SR]) > 0.05 and rms(audio[3 * SR : 8 * SR]) == 0


def test_the_loop_length_of_plain_midi_is_rounded_up_to_whole_bars():
    roll = phrase()
    roll[:, 48:] = 0  # a silent last bar
    pm = roll_to_midi(roll, tempo_bpm=120)
    assert pm.get_end_time() == pytest.approx(6.0)
    assert render.loop_seconds(pm) == pytest.approx(6.0)
    pm.instruments[MELODY].notes[-1].end += 0.1
    assert render.loop_seconds(pm) == pytest.approx(8.0)
    assert render_audio(pm, 10, "flute", SR, backend="numpy").shape == (10 * SR,)


def test_unknown_instrument_lists_the_known_ones():
    with pytest.raises(InstrumentUnknown) as caught:
        render_roll(phrase(), 10, "kazoo")
    message = str(caught.value)
    assert "kazoo" in message and all(name in message for name in INSTRUMENTS)
    assert isinstance(caught.value, InputError)


@pytest.mark.parametrize("seconds", [5, 61])
def test_clip_length_is_bounded(seconds):
    with pytest.raises(InputError):
        render_roll(phrase(), seconds)


@pytest.mark.skipif(not fluidsynth_available(), reason="FluidSynth (libfluidsynth3) not installed")
def test_fluidsynth_renders_the_asked_length():
    pm = roll_to_midi(phrase(), tempo_bpm=110)
    audio = render_audio(pm, 11, "strings", SR, backend="fluidsynth")
    assert audio.shape == (11 * SR,) and rms(audio) > 0.02


def test_the_fluidsynth_path_voices_every_track_with_the_instrument(monkeypatch):
    import pretty_midi

    calls = []

    def fake_fluidsynth(self, fs):
        calls.append((fs, [inst.program for inst in self.instruments]))
        return np.full(2 * fs, 0.5)

    monkeypatch.setattr(pretty_midi.PrettyMIDI, "fluidsynth", fake_fluidsynth)
    monkeypatch.setattr(render, "fluidsynth_available", lambda: True)
    pm = roll_to_midi(phrase(), tempo_bpm=120)
    audio = render_audio(pm, 10, "organ", SR)
    assert calls == [(SR, [INSTRUMENTS["organ"].program] * len(TRACKS))]
    assert [inst.program for inst in pm.instruments] == [0, 0]  # the caller's MIDI is untouched
    assert audio.shape == (10 * SR,) and audio[SR] == pytest.approx(0.9) and audio[3 * SR] == 0
    assert audio[8 * SR + 10] == pytest.approx(0.9)  # the next pass, one 8 s phrase later


def test_auto_backend_falls_back_to_numpy_when_fluidsynth_breaks(monkeypatch):
    pm = roll_to_midi(phrase())
    expected = render_audio(pm, 10, "piano", SR, backend="numpy")

    def broken(*args, **kwargs):
        raise RuntimeError("no soundfont")

    monkeypatch.setattr(render, "fluidsynth_available", lambda: True)
    monkeypatch.setattr(render, "synth_fluidsynth", broken)
    np.testing.assert_array_equal(render_audio(pm, 10, "piano", SR), expected)
    with pytest.raises(RuntimeError):
        render_audio(pm, 10, "piano", SR, backend="fluidsynth")


def test_without_ffmpeg_the_clip_is_a_normalised_faded_wav(monkeypatch):
    monkeypatch.setattr(render, "ffmpeg_path", lambda: None)
    _, audio = render_roll(phrase(), 60, "strings", sample_rate=SR)
    data, extension = encode_clip(audio * 0.1, SR)  # quiet input comes out at about -16 dBFS
    assert extension == "wav" and len(data) < MAX_UPLOAD_BYTES
    with wave.open(io.BytesIO(data)) as clip:
        assert (clip.getnchannels(), clip.getsampwidth(), clip.getframerate()) == (1, 2, SR)
        assert clip.getnframes() == 60 * SR
        samples = np.frombuffer(clip.readframes(clip.getnframes()), "<i2") / 32768
    assert len(data) == 44 + 2 * 60 * SR  # 2.6 MB, far under 10 MiB
    level = 20 * np.log10(rms(samples))
    assert -19 < level < -15 and np.abs(samples).max() < 10 ** (-1 / 20) + 1e-3
    assert np.abs(samples[:10]).max() < 0.01 and np.abs(samples[-200:]).max() < 0.01


def test_silence_encodes_without_error(monkeypatch):
    monkeypatch.setattr(render, "ffmpeg_path", lambda: None)
    data, extension = encode_clip(np.zeros(10 * SR, dtype=np.float32), SR)
    assert extension == "wav" and data[:4] == b"RIFF"


@pytest.mark.skipif(render.ffmpeg_path() is None, reason="ffmpeg not installed")
def test_with_ffmpeg_the_clip_is_ogg_or_mp3():
    _, audio = render_roll(phrase(), 30, "piano", sample_rate=SR)
    data, extension = encode_clip(audio, SR)
    assert extension in ("ogg", "mp3") and len(data) < MAX_UPLOAD_BYTES
    if extension == "ogg":
        assert data[:4] == b"OggS"
    else:
        assert data[:3] == b"ID3" or data[0] == 0xFF
    assert encode_clip(audio, SR) == (data, extension)  # the same clip, the same bytes

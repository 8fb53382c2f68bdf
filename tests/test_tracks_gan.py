"""The tracks GAN: a tiny model trained in seconds learns, is deterministic, resumes, composes
clips, and is evaluated; the composer's options are checked without torch."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from ml.errors import InputError, ModelNotReady
from ml.home import ModelHome
from ml.progress import Progress, TrainingCancelled
from ml.tracks import HARMONY, MELODY, N_PITCHES, SERVICE, STEPS, TRACKS
from tests.conftest import cancel_during
from tests.music import c_major_phrase


def _home_with_data(tiny_root: Path, root: Path) -> ModelHome:
    """A fresh home holding only the tiny run's prepared phrases (no parsing again)."""
    shutil.copytree(tiny_root / "models" / SERVICE / "data", root / "models" / SERVICE / "data")
    return ModelHome(root)


def phrase() -> np.ndarray:
    return c_major_phrase(repeated_note=True)


# ----------------------------------------------------------------------------- the networks


def test_generator_makes_binary_rolls_with_a_monophonic_melody():
    from ml.tracks.gan import CHANNELS, Generator, to_rolls

    torch.manual_seed(0)
    generator = Generator(z_phrase=8, z_bar=4, width=16).eval()
    with torch.no_grad():
        out = generator(torch.randn(5, generator.latent_size), torch.tensor([1.0, 0, 1, 0, 1]))
    assert out.shape == (5, CHANNELS, STEPS, N_PITCHES)
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    rolls = to_rolls(out)
    assert rolls.shape == (5, len(TRACKS), STEPS, N_PITCHES) and rolls.dtype == np.uint8
    assert (rolls[:, MELODY] > 0).sum(-1).max() <= 1  # one melody note at a time
    assert set(np.unique(rolls)) <= {0, 1, 2}


def test_real_rolls_survive_the_round_trip_through_the_model_channels():
    from ml.tracks.gan import rolls_to_tensor, to_rolls

    rolls = np.stack([phrase(), phrase()[:, ::-1].copy()])
    rolls[1] = np.where(rolls[1] > 0, 2, 0)  # every cell an onset: 16th notes
    np.testing.assert_array_equal(to_rolls(rolls_to_tensor(rolls)), rolls)


def test_the_critic_learns_to_tell_real_from_generated():
    from ml.tracks.gan import Critic, Generator, rolls_to_tensor
    from ml.tracks.train import TracksTrainConfig, train_gan_step

    config = TracksTrainConfig.quick()
    config.critic_steps = 3
    torch.manual_seed(0)
    generator = Generator(config.z_phrase, config.z_bar, config.generator_width)
    critic = Critic(config.critic_width)
    g_opt = torch.optim.Adam(generator.parameters(), lr=1e-4, betas=(0.5, 0.9))
    c_opt = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))
    x = rolls_to_tensor(np.stack([phrase()] * 8))
    c = torch.ones(8)
    distances = [train_gan_step(generator, critic, g_opt, c_opt, x, c, config, step)["distance"] for step in range(15)]
    assert all(np.isfinite(distances))
    # the Wasserstein estimate grows as the critic learns to separate the two
    assert distances[-1] > max(0.15, 5 * distances[0])


def test_a_model_made_for_an_older_generator_is_refused_with_a_way_out(tmp_path):
    from ml.home import ModelRef
    from ml.tracks.gan import load_generator

    (tmp_path / "card.json").write_text(json.dumps({"generator": {"z_phrase": 8, "z_bar": 4, "width": 16}}))
    with pytest.raises(ModelNotReady, match="mlbot train tracks"):
        load_generator(ModelRef(SERVICE, "tracks-old", tmp_path))


# ----------------------------------------------------------------------------- training


def test_the_tiny_run_is_published_with_a_card(tiny_tracks_root):
    ref = ModelHome(tiny_tracks_root).current(SERVICE)
    assert ref is not None and ref.version.startswith("tracks-")
    card = ref.card
    assert set(card["training"]["seconds_by_stage"]) == {"prepare", "train", "evaluate"}
    assert 0 <= card["metrics"]["classifier_accuracy"] <= 1
    assert card["generator"] == {"z_phrase": 8, "z_bar": 4, "width": 16, "revision": 2}
    assert not (ModelHome(tiny_tracks_root).work_dir(SERVICE) / "checkpoint.pt").exists()


def test_another_seed_another_model_and_a_resumed_run_the_same_model(tiny_tracks_root, tmp_path):
    from ml.tracks.train import TracksTrainConfig, train_tracks

    straight = ModelHome(tiny_tracks_root).current(SERVICE).version
    config = TracksTrainConfig.quick()
    config.seed = 1
    assert train_tracks(_home_with_data(tiny_tracks_root, tmp_path / "b"), config).version != straight

    config = TracksTrainConfig.quick()
    home = _home_with_data(tiny_tracks_root, tmp_path / "c")
    progress = Progress(SERVICE)
    cancel_during(progress, 7, "training")  # after the checkpoint at step 5
    with pytest.raises(TrainingCancelled):
        train_tracks(home, config, progress)
    assert home.current(SERVICE) is None
    assert (home.work_dir(SERVICE) / "checkpoint.pt").exists()
    resumed = train_tracks(home, config)
    assert resumed.version == straight
    assert resumed.card["training"]["resumed_at_step"] == 5
    assert not (home.work_dir(SERVICE) / "checkpoint.pt").exists()


# ----------------------------------------------------------------------------- composing


@pytest.fixture(scope="module")
def composer(tiny_tracks_root):
    from ml.tracks.compose import TrackComposer

    return TrackComposer(ModelHome(tiny_tracks_root).current(SERVICE))


def _wav_samples(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data)) as handle:
        frames = handle.readframes(handle.getnframes())
        return np.frombuffer(frames, dtype="<i2"), handle.getframerate()


def test_compose_makes_audio_of_the_asked_length_and_the_same_music_as_midi(composer):
    import pretty_midi

    track = composer.compose(seed=3, seconds=12, instrument="organ", tempo=90)
    assert track.model_version == composer.version and track.seconds == 12 and track.tempo == 90
    assert track.audio_ext in ("ogg", "mp3", "wav") and len(track.audio) > 1000
    if track.audio_ext == "wav":
        samples, rate = _wav_samples(track.audio)
        assert len(samples) == 12 * rate
        assert np.abs(samples.astype(np.float64)).mean() > 10  # not silent
    pm = pretty_midi.PrettyMIDI(io.BytesIO(track.midi))
    assert [inst.program for inst in pm.instruments] == [19, 19]  # organ, both tracks
    notes = [n for inst in pm.instruments for n in inst.notes]
    assert notes and max(n.end for n in notes) <= 12 + 1e-6  # no music past the audio's end
    assert track.title and "organ" in track.title
    assert set(track.metrics) >= {"melody_empty_beat_rate", "melody_in_scale_rate", "harmony_in_scale_rate"}
    json.dumps(track.metrics, allow_nan=False)


def test_compose_is_deterministic_for_a_seed_and_differs_between_seeds(composer):
    a = composer.compose(seed=7, seconds=10, instrument="piano", tempo=120)
    b = composer.compose(seed=7, seconds=10, instrument="piano", tempo=120)
    c = composer.compose(seed=8, seconds=10, instrument="piano", tempo=120)
    assert a.audio == b.audio and a.midi == b.midi and a.title == b.title
    assert a.midi != c.midi and a.audio != c.audio


def test_a_longer_clip_of_a_seed_opens_with_the_same_phrases(composer):
    short, long = composer.generate(seed=7, phrases=2), composer.generate(seed=7, phrases=5)
    np.testing.assert_array_equal(long[:2], short)


def test_the_latent_walk_is_seeded_and_moves_step_by_step():
    from ml.tracks.compose import latent_walk

    walk = latent_walk(5, 6, 64, 32)
    np.testing.assert_array_equal(walk, latent_walk(5, 6, 64, 32))
    assert not np.array_equal(walk, latent_walk(6, 6, 64, 32))
    phrase_part = walk[:, :64]
    # neighbours share most of the phrase latent; a fresh draw would correlate ~0
    assert np.corrcoef(phrase_part[0], phrase_part[1])[0, 1] > 0.6


def test_compose_checks_its_options(composer):
    with pytest.raises(InputError):
        composer.compose(seed=1, seconds=5)


@pytest.mark.parametrize("seconds, instrument, tempo, words", [
    (9, "piano", 100, "10 to 60 seconds"),
    (61, "piano", 100, "10 to 60 seconds"),
    (30, "piano", 39, "40 to 200"),
    (30, "piano", 201, "40 to 200"),
    (30, "kazoo", 100, "kazoo"),
])
def test_validate_options_explains_in_one_line(seconds, instrument, tempo, words):
    from ml.tracks.options import INSTRUMENTS, validate_options

    with pytest.raises(InputError) as caught:
        validate_options(seconds, instrument, tempo)
    message = str(caught.value)
    assert words in message and "\n" not in message
    if instrument == "kazoo":
        assert all(name in message for name in INSTRUMENTS)


def test_validate_options_accepts_the_edges_and_loads_no_torch():
    from ml.tracks.options import validate_options

    for seconds, instrument, tempo in ((10, "piano", 40), (60, "Strings", 200), (30, "chiptune", 100)):
        validate_options(seconds, instrument, tempo)
    code = ("import sys; from ml.tracks.options import validate_options; validate_options(30, 'piano', 100); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


# ----------------------------------------------------------------------------- evaluation


def test_evaluate_tracks_reports_the_figures_side_by_side(tiny_tracks_root, tmp_path):
    from ml.tracks.evaluate import evaluate_tracks

    root = tmp_path / "home"
    shutil.copytree(tiny_tracks_root / "models", root / "models")
    result = evaluate_tracks(ModelHome(root))
    json.dumps(result, allow_nan=False)
    assert result["model_version"] == ModelHome(root).current(SERVICE).version
    assert 0 <= result["classifier_accuracy"] <= 1
    keys = {f"{track}_{metric}" for track in TRACKS for metric in
            ("empty_beat_rate", "pitch_classes_per_bar", "qualified_note_rate", "polyphony_rate", "in_scale_rate")}
    for part in ("generated", "data", "random", "within_20_percent"):
        assert set(result[part]) == keys
    assert result["data"]["melody_polyphony_rate"] == 0.0 and result["generated"]["melody_polyphony_rate"] == 0.0
    # the same model and data give the same figures as the card's
    card = ModelHome(root).current(SERVICE).card
    assert result["generated"] == card["evaluation"]["generated"]
    assert result["classifier_accuracy"] == card["metrics"]["classifier_accuracy"]


def test_evaluate_tracks_without_a_model_says_so(tmp_path):
    from ml.tracks.evaluate import evaluate_tracks

    with pytest.raises(ModelNotReady):
        evaluate_tracks(ModelHome(tmp_path))


def test_the_random_baseline_keeps_the_data_density():
    from ml.tracks.evaluate import random_rolls

    data = np.stack([phrase()] * 20)
    harmony = np.array([True] * 10 + [False] * 10)
    rolls = random_rolls(data, harmony, seed=0)
    assert (rolls[:, MELODY] > 0).sum(-1).max() <= 1
    assert not (rolls[~harmony, HARMONY] > 0).any() and (rolls[harmony, HARMONY] > 0).any()
    notes = lambda r, t: (r[:, t] == 2).sum() / len(r)  # noqa: E731
    assert notes(rolls, MELODY) == pytest.approx(notes(data, MELODY), rel=0.3)

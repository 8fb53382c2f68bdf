"""/essay through the command layer, the CLI and the fake Discord (with a tiny trained model)."""
from __future__ import annotations

import asyncio
import json
import time

import pytest

from bot.app import App
from bot.adapters.cli import main as cli_main
from bot.commands import CommandContext, run_command
from tests.fake_discord import FakeDiscord
from tests.conftest import install_models
from tests.test_discord_e2e import start_bot, stop_bot


@pytest.fixture
def home_with_essays(home, tiny_essay_root):
    return install_models(home, tiny_essay_root)


@pytest.fixture
async def app(home_with_essays):
    app = await App(home_with_essays).start()
    yield app
    await app.close()


async def test_essay_command_answers_then_serves_the_cache(app):
    ctx = CommandContext(app, "console", "local")
    first = await run_command("essay", ctx, topic="the navy", words=150, style="small", seed=2)
    assert not first.is_error, first.text
    assert first.title == "The Navy"
    assert abs(first.data["words"] - 150) <= 15
    assert first.data["longest_copied_run"] <= 12  # the plagiarism guard's limit, shown with the essay
    assert dict(first.fields)["longest run copied from the corpus"].endswith("(the guard allows 12)")
    again = await run_command("essay", ctx, topic="the navy", words=150, style="small", seed=2)
    assert again.data["cached"] and again.data["essay"] == first.data["essay"]


async def test_long_essays_come_as_a_markdown_file(app, monkeypatch):
    import bot.commands.essay as essay_command

    monkeypatch.setattr(essay_command, "INLINE_LIMIT", 600)  # a short essay is "long" (seconds, not 25 s)
    ctx = CommandContext(app, "console", "local")
    reply = await run_command("essay", ctx, topic="the economy", words=200, style="small")
    assert not reply.is_error, reply.text
    assert [f.filename for f in reply.files] == ["the-economy.md"]
    assert reply.files[0].data.decode().startswith("# The Economy\n\n")
    assert reply.text.startswith(reply.data["essay"].split("\n\n")[0])


@pytest.mark.parametrize("options, message", [
    ({"topic": "  "}, "give a topic"),
    ({"topic": "farms", "words": 20000}, "between 100 and 1500"),
    ({"topic": "farms", "style": "poetry"}, "unknown style 'poetry'; known styles: small"),
    ({"topic": "farms", "temperature": 7.0}, "between 0.2 and 1.5"),
    ({"topic": "farms", "opening": "grand"}, "opening must be plain or ceremony"),
])
async def test_bad_essay_requests_get_one_line(app, options, message):
    reply = await run_command("essay", CommandContext(app, "console", "local"), **{"style": "small", **options})
    assert reply.is_error and message in reply.text and "\n" not in reply.text


async def test_the_corpus_ceremony_is_allowed_only_when_asked(app):
    ctx = CommandContext(app, "console", "local")
    plain = await run_command("essay", ctx, topic="the navy", words=120, style="small", seed=3)
    ceremony = await run_command("essay", ctx, topic="the navy", words=120, style="small", seed=3, opening="ceremony")
    assert not plain.is_error and not ceremony.is_error, (plain.text, ceremony.text)
    assert plain.data["ceremony"] is False and ceremony.data["ceremony"] is True
    assert not ceremony.data["cached"]  # another request: not the plain essay from the cache


async def test_default_style_not_built_says_how_to_build_it(app):
    reply = await run_command("essay", CommandContext(app, "console", "local"), topic="farms")
    assert reply.is_error and "mlbot train essay" in reply.text


async def test_forget_removes_cached_essays(app):
    ctx = CommandContext(app, "console", "local")
    await run_command("essay", ctx, topic="railroads", words=120, style="small")
    assert (await app.cache.stats())["entries"] >= 1
    forgot = await run_command("forget", ctx)
    assert not forgot.is_error
    assert (await app.cache.stats())["entries"] == 0


def test_cli_essay_json(home_with_essays, capsys):
    code = cli_main(["essay", "coal and steel", "--words", "120", "--style", "small", "--seed", "4", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(out) >= {"title", "essay", "words", "longest_copied_run", "model_version"}
    assert out["title"] == "Coal and Steel" and out["longest_copied_run"] <= 12
    assert cli_main(["essay", "coal and steel", "--words", "120", "--style", "small", "--seed", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["essay"] == out["essay"]


def test_cli_essay_bad_input_is_one_line(home_with_essays, capsys):
    assert cli_main(["essay", "", "--style", "small"]) == 2
    assert capsys.readouterr().err.strip().startswith("mlbot: give a topic")


async def test_slash_essay_shows_progress_at_most_once_a_second(home_with_essays, point_discord_at, monkeypatch):
    import bot.commands.essay as essay_command

    monkeypatch.setattr(essay_command, "INLINE_LIMIT", 600)  # so a 400-word essay comes as a file
    fake = await FakeDiscord(heartbeat_interval_ms=500).start()
    point_discord_at(fake)
    bot = await start_bot(fake, home_with_essays)
    try:
        record = await fake.run_slash("alice", "essay", {"topic": "the west", "words": 400, "style": "small",
                                                         "temperature": 0.9})
        deadline = time.monotonic() + 180
        while not record.followups and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        answer = record.followups[0]
        assert answer.embeds[0]["title"] == "The West"
        assert answer.files and answer.files[0][0] == "the-west.md"
        edits = [t for t, _ in record.original_edits]
        assert edits, "a 400-word essay should show its progress"
        assert all(b - a >= 0.95 for a, b in zip(edits, edits[1:]))
        # The progress line goes once the essay is there (its delete follows the essay's post).
        gone_by = time.monotonic() + 10
        while not record.original_deleted and time.monotonic() < gone_by:
            await asyncio.sleep(0.05)
        assert record.original_deleted
    finally:
        await stop_bot(bot)
        await fake.stop()


def test_cli_trains_a_style_from_a_folder_and_refuses_a_small_one(home, small_essay_corpus, tmp_path, capsys):
    assert cli_main(["train", "essay", "--quick", "--corpus", str(small_essay_corpus), "--name", "mine"]) == 0
    assert home.current("essay-mine") is not None
    assert cli_main(["essay", "the harbor", "--style", "mine", "--words", "100", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["model_version"].startswith("essay-mine-")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "note.txt").write_text("Too short to learn from.")
    assert cli_main(["train", "essay", "--corpus", str(empty), "--name", "tiny"]) == 2
    assert "training needs at least 3 .txt or .md essays" in capsys.readouterr().err
    assert cli_main(["train", "essay", "--corpus", str(small_essay_corpus)]) == 2  # no --name


def test_starting_the_bot_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, bot.app, bot.commands, bot.adapters.cli; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"

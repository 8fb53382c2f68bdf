"""`mlbot feedback export`: the corrections users sent, for retraining, from the operator's
shell (a real subprocess on the bot's MLBOT_HOME), and what recording one keeps."""
from __future__ import annotations

import asyncio
import base64
import json

import pytest

from bot.app import App
from bot.commands import CommandContext, run_command
from bot.commands.feedback import Answer, answer_of, record_feedback
from ml.errors import InputError
from tests.conftest import bytes_input, mnist_png
from tests.test_cli import run


async def corrections(home, mnist) -> bytes:
    """Two Discord users correct /digit answers, one sharing the picture; returns that picture."""
    async with App(home) as app:
        shared = None
        for user, index, label, share in (("41", 0, "1", True), ("42", 1, "2", False)):
            ctx = CommandContext(app, "discord", user)
            reply = await run_command("digit", ctx, image=bytes_input(mnist_png(mnist, index)))
            answer = answer_of(app, "digit", reply)
            line = await record_feedback(ctx, answer, label, share)
            assert line.startswith("Thanks: noted") and ("kept with it" in line) == share
            shared = shared or reply.files[0].data
        # A user who deleted their results cannot share them any more: only the hash is kept.
        ctx = CommandContext(app, "discord", "43")
        reply = await run_command("digit", ctx, image=bytes_input(mnist_png(mnist, 2)))
        await run_command("forget", ctx)
        line = await record_feedback(ctx, answer_of(app, "digit", reply), "9", True)
        assert "no longer stored" in line
        return shared


def test_feedback_export_from_the_shell(home_with_model, mnist):
    picture = asyncio.run(corrections(home_with_model, mnist))
    exported = run(["feedback", "export", "--json"], home_with_model)
    assert exported.returncode == 0, exported.stderr
    document = json.loads(exported.stdout)
    rows = document["feedback"]
    assert [row["label"] for row in rows] == ["1", "2", "9"] and document["count"] == 3
    assert base64.b64decode(rows[0]["picture_png_base64"]) == picture
    assert all("picture_png_base64" not in row for row in rows[1:])
    assert all("user_key" not in row and len(row["input_hash"]) == 32 for row in rows)
    assert document["model_wrong"] == sum(1 for row in rows if row["label"] != row["model_answer"])
    text = run(["feedback", "export", "--service", "tone"], home_with_model)
    assert text.returncode == 0 and text.stdout.startswith("0 correction(s)")
    bad = run(["feedback", "export", "--service", "essay"], home_with_model)
    assert bad.returncode == 2 and "invalid choice: 'essay'" in bad.stderr


async def test_a_label_that_is_no_answer_gets_one_line(app):
    ctx = CommandContext(app, "discord", "7")
    for answer, label in ((Answer("tone", "a" * 32, "neutral"), "sarcastic"), (Answer("digit", "b" * 32, "3"), "x1")):
        with pytest.raises(InputError) as refused:
            await record_feedback(ctx, answer, label, False)
        assert "\n" not in str(refused.value)
    assert await app.feedback.export() == []
    console = await run_command("feedback export", CommandContext(app, "console", "me"), service="essay")
    assert console.is_error and console.text == "feedback is kept for tone and digit only"

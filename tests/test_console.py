"""The console REPL over the shared commands, fed from a script as a user would type."""
import io

import pytest

from bot.console import Console
from tests.conftest import mnist_png


async def test_console_session(app, mnist, tmp_path):
    image = tmp_path / "seven.png"
    image.write_bytes(mnist_png(mnist, 0))
    script = "\n".join([
        "/help",
        f"/digit {image}",
        f"/digit {image}",
        "/digit /no/such/file.png",
        "/status",
        "/about",
        "hello",
        "/nonsense",
        "/forget",
        "/quit",
        "/help",  # never reached
    ]) + "\n"
    out = io.StringIO()
    console = Console(app, stdin=io.StringIO(script), stdout=out, output_dir=tmp_path / "saved")
    await console.run()
    text = out.getvalue()
    assert "/digit <image>" in text
    assert "I read" in text or "Not sure" in text
    assert "(cached)" in text  # the second /digit of the same image came from the cache
    assert "no such file: /no/such/file.png" in text
    assert "cache: " in text and "uptime" in text
    assert "commands start with /" in text and "unknown command /nonsense" in text
    assert "Deleted 1 stored result" in text
    saved = list((tmp_path / "saved").iterdir())
    assert len(saved) == 2 and all(p.read_bytes().startswith(b"\x89PNG") for p in saved)
    assert str(saved[0]) in text
    assert text.count("Commands") == 1


async def test_cache_hit_does_not_run_the_model(app, mnist):
    from bot.commands import CommandContext, InputFile, run_command

    data = mnist_png(mnist, 1)

    async def read():
        return data

    ctx = CommandContext(app, "console", "local")
    first = await run_command("digit", ctx, image=InputFile("a.png", len(data), read))
    runtime = app.runtime("digits")
    calls = runtime.calls
    second = await run_command("digit", ctx, image=InputFile("b.png", len(data), read))
    assert runtime.calls == calls  # the model did not run again
    assert second.data["cached"] is True and first.data["cached"] is False
    assert {k: v for k, v in second.data.items() if k != "cached"} == {k: v for k, v in first.data.items() if k != "cached"}
    assert second.files[0].data == first.files[0].data


async def test_a_model_that_is_not_built_says_how_to_get_it(home):
    from bot.app import App
    from bot.commands import CommandContext, InputFile, run_command

    async def read():
        return b"x"

    async with App(home) as app:
        reply = await run_command("digit", CommandContext(app, "console", "u"), image=InputFile("a.png", 1, read))
    assert reply.is_error and "mlbot train digits" in reply.text


async def test_background_training_reports_progress_then_serves(home, mnist):
    """The bot comes up at once; the missing model trains behind it and then answers."""
    import asyncio

    from bot.app import App
    from bot.commands import CommandContext, InputFile, run_command

    data = mnist_png(mnist, 0)

    async def read():
        return data

    async with App(home, background_training=True, quick_training=True) as app:
        assert app.trainer.queue == ["digits", "tone"]  # one at a time, in this order
        ctx = CommandContext(app, "console", "u")
        early = await run_command("digit", ctx, image=InputFile("a.png", len(data), read))
        assert early.is_error and "digits model" in early.text
        assert "training" in early.text or "waiting" in early.text
        for _ in range(1200):
            if home.current("digits") is not None:
                break
            await asyncio.sleep(0.1)
        later = await run_command("digit", ctx, image=InputFile("a.png", len(data), read))
        assert not later.is_error, later.text

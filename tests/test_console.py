"""The console REPL over the shared commands, fed from a script as a user would type."""
import io


from bot.adapters.console import Console
from tests.conftest import bytes_input, mnist_png


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
    assert "friend model is not set up" in text and "unknown command /nonsense" in text
    assert "1 stored result(s) of your requests" in text
    saved = list((tmp_path / "saved").iterdir())
    assert len(saved) == 2 and all(p.read_bytes().startswith(b"\x89PNG") for p in saved)
    assert str(saved[0]) in text
    assert text.count("Commands") == 1


async def test_cache_hit_does_not_run_the_model(app, mnist):
    from bot.commands import CommandContext, run_command

    data = mnist_png(mnist, 1)
    ctx = CommandContext(app, "console", "local")
    first = await run_command("digit", ctx, image=bytes_input(data, "a.png"))
    runtime = app.runtime("digits")
    calls = runtime.calls
    second = await run_command("digit", ctx, image=bytes_input(data, "b.png"))
    assert runtime.calls == calls  # the model did not run again
    assert second.data["cached"] is True and first.data["cached"] is False
    assert {k: v for k, v in second.data.items() if k != "cached"} == {k: v for k, v in first.data.items() if k != "cached"}
    assert second.files[0].data == first.files[0].data


async def test_a_model_that_is_not_built_says_how_to_get_it(home):
    from bot.app import App
    from bot.commands import CommandContext, run_command

    async with App(home) as app:
        reply = await run_command("digit", CommandContext(app, "console", "u"), image=bytes_input(b"x"))
    assert reply.is_error and "mlbot train digits" in reply.text


async def test_background_training_reports_progress_then_serves(home, mnist):
    """The bot comes up at once; the missing model trains behind it and then answers."""
    import asyncio

    from bot.app import App
    from bot.commands import CommandContext, run_command

    data = mnist_png(mnist, 0)
    async with App(home, background_training=True, quick_training=True) as app:
        assert app.trainer.queue == ["digits", "tone", "friend", "essay", "tracks"]  # one at a time, in this order
        ctx = CommandContext(app, "console", "u")
        early = await run_command("digit", ctx, image=bytes_input(data))
        assert early.is_error and "digits model" in early.text
        assert "training" in early.text or "waiting" in early.text
        for _ in range(1200):
            if home.current("digits") is not None:
                break
            await asyncio.sleep(0.1)
        later = await run_command("digit", ctx, image=bytes_input(data))
        assert not later.is_error, later.text


async def test_option_bounds_hold_for_every_adapter(app):
    """Discord's client enforces min/max; the shared layer enforces them for the rest too."""
    from bot.commands import CommandContext, run_command

    admin = CommandContext(app, "console", "u", guild_id="g1", can_manage_server=True)
    too_long = await run_command("config cooldown", admin, seconds=5000)
    assert too_long.is_error and too_long.text == "<seconds> must be between 0 and 3600"
    fine = await run_command("config cooldown", admin, seconds=30)
    assert not fine.is_error and await app.settings.get("g1", "cooldown_seconds") == "30"

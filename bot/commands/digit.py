"""/digit: read a handwritten digit, or a number written digit by digit, from an image."""
from __future__ import annotations

from bot.commands.base import CommandContext, InputFile, Option, OptionKind, command
from bot.reply import Reply, ReplyFile
from ml.digits.imageio import check_upload_size


def _percent(p: float) -> str:
    return f"{p:.0%}" if p >= 0.01 else "<1%"


@command(
    "digit",
    "Read a handwritten digit, or a number like 2026, from a photo or drawing",
    [Option("image", OptionKind.ATTACHMENT, "A photo or drawing of handwritten digits (PNG, JPEG, WebP, GIF, BMP)")],
    rate_limited=True,
)
async def digit(ctx: CommandContext, image: InputFile) -> Reply:
    check_upload_size(image.size)  # before the download
    data = await image.read()
    result, picture, cached = await ctx.app.digits.read(data, ctx.app.user_key(ctx.adapter, ctx.user_id))

    if result.get("no_digits"):
        text = "I don't see any digits."
    elif result["digits"] is not None:
        text = f"I read {result['digits']} ({_percent(result['confidence'])} sure)."
    else:
        text = (f"Not sure. My best guess is {result['best_guess']}, "
                f"but only {_percent(result['confidence'])} sure; a clearer photo would help.")
    top3 = ", ".join(f"{c['digits']} ({_percent(c['p'])})" for c in result["top3"]) or "none"
    fields = [("top 3", top3), ("model", result["model_version"] + (" (cached)" if cached else ""))]
    files = [ReplyFile("model-input.png", picture, "the 28x28 image(s) the model saw")] if picture else []
    return Reply(text=text, title="Digit reader", fields=fields, files=files, data={**result, "cached": cached})

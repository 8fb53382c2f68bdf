"""/privacy says what is stored and how to delete it; /mydata hands the asker all of it."""
from __future__ import annotations

import json

from bot.commands.base import CommandContext, command
from bot.reply import Reply, ReplyFile
from bot.services.retention import retention_days
from storage.user_data import count_rows, export_user

PRIVACY_TEXT = """\
Your user id is never stored: a keyed hash of it links your data to you.
Stored about you:
- the results of your /digit, /tone, /essay and /track requests (cached; a /tone result quotes the text you checked; \
/digit keeps the 28x28 picture the model saw, never your upload);
- what the friend remembers: your conversation turns, their summaries, facts you told it, your persona, threads it \
opened for you;
- the times of your recent model commands, for the rate limits (gone once the limit's window has passed);
- corrections you send with "Was this right?" under a /tone or /digit answer: a keyed hash of the input, the \
model's answer and your label, and the text (or the 28x28 picture) only if you ticked "share".
{kept}
Not stored: uploaded images, messages in watched channels (only a hash and a score, with no user), who ran a command \
in the command counts behind /stats.
/mydata sends you all of it as a JSON file, visible only to you; /forget deletes it."""


@command("privacy", "What the bot stores about you, for how long, and how to see or delete it", ephemeral=True)
async def privacy(ctx: CommandContext) -> Reply:
    days = retention_days()
    kept = (f"Results, the friend's memory and corrections are deleted once untouched for {days:g} days (checked "
            "every hour; a result sooner if the cache needs room)." if days > 0 else
            "Results, the friend's memory and corrections are kept until you delete them (a result goes sooner if "
            "the cache needs room).")
    return Reply(title="Privacy", text=PRIVACY_TEXT.format(kept=kept), data={"retention_days": days})


@command("mydata", "Everything stored about you, as a JSON file only you can see", ephemeral=True)
async def mydata(ctx: CommandContext) -> Reply:
    export = await export_user(ctx.app.db, ctx.app.user_key(ctx.adapter, ctx.user_id))
    rows = count_rows(export)
    document = json.dumps(export, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return Reply(text=f"{rows} stored row(s) about you: {len(export['results'])} result(s), "
                      f"{sum(len(v) for v in export['friend'].values())} from the friend's memory, "
                      f"{len(export['rate_limit_events'])} rate-limit event(s), {len(export['feedback'])} "
                      f"correction(s) you sent. /forget deletes them.",
                 files=[ReplyFile("mydata.json", document, "everything stored about you")],
                 data={"rows": rows, "export": export})

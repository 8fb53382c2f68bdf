"""Buttons end to end through the fake Discord: "Was this right?" under /digit and /tone (a
panel only the asker sees, the correction stored, in /mydata, gone with /forget), buttons that
work after a restart, "Check tone" from a user install, and Regenerate under /track."""
from __future__ import annotations

import json
import shutil

import pytest

from bot.commands.feedback import digit_input_hash, tone_input_hash
from tests.conftest import install_models, mnist_png
from tests.fake_discord import FakeDiscord
from tests.fake_discord import payloads as p
from tests.test_discord_e2e import PNG, bot_on_fake, start_bot, stop_bot


@pytest.fixture
async def bot(home_with_model, point_discord_at):
    async with bot_on_fake(home_with_model, point_discord_at) as running:
        yield running


def labels(fake, message) -> list[str]:
    return [b["label"] for b in fake.buttons(message)]


async def click(fake, user: str, message, label: str):
    record = await fake.click_button(user, message, label)
    await fake.wait_until(lambda: record.acknowledged_at is not None and (record.ack_type != 5 or record.replies),
                          what=f"no answer to a click on {label!r}")
    return record


async def test_someone_else_gets_one_private_line_and_nothing_changes(bot, mnist):
    fake = bot.fake
    answer = await fake.wait_for_reply(await fake.run_slash("bob", "digit", files={"image": ("a.png", mnist_png(mnist, 0), PNG)}))
    assert labels(fake, answer) == ["Was this right?"]
    before = json.dumps(answer.payload, sort_keys=True)
    record = await click(fake, "alice", answer, "Was this right?")
    assert record.ack_type == 4 and record.ephemeral
    assert record.original.content == "Only the person who asked can use these buttons: run /digit yourself for your own."
    assert json.dumps(answer.payload, sort_keys=True) == before  # the answer itself is untouched
    assert await bot.app.feedback.export() == [] and fake.errors == []
    help_text = (await fake.wait_for_reply(await fake.run_slash("alice", "help"))).text
    assert "Regenerate (/essay, /track, the friend's replies)" in help_text and '"Was this right?"' in help_text


async def test_digit_correction_typed_on_the_keypad_with_the_picture_shared(bot, mnist):
    fake, app = bot.fake, bot.app
    answer = await fake.wait_for_reply(await fake.run_slash("bob", "digit", files={"image": ("a.png", mnist_png(mnist, 0), PNG)}))
    record = await click(fake, "bob", answer, "Was this right?")
    panel = record.original
    assert record.ack_type == 4 and panel.ephemeral and "Typed: …" in panel.content
    assert "Share the picture: no" in labels(fake, panel)
    with pytest.raises(LookupError):  # alice cannot even see bob's panel
        await fake.click_button("alice", panel, "1")
    for label in ("Share the picture: no", "1", "7", "Delete", "4"):
        record = await click(fake, "bob", panel, label)
        assert record.ack_type == 7  # the panel changes in place
    assert "Typed: 14" in panel.content and "Send 14" in labels(fake, panel) and "Share the picture: yes" in labels(fake, panel)
    await click(fake, "bob", panel, "Send 14")
    assert panel.content.startswith("Thanks: noted that the answer is 14 (your picture was kept with it)")
    assert fake.buttons(panel) == []

    bob = app.user_key("discord", fake.users["bob"]["id"])
    [row] = await app.feedback.of_user(bob)
    picture = answer.files[0][1]
    assert row.service == "digit" and row.label == "14" and row.model_answer in answer.text  # what it read
    assert row.input_hash == digit_input_hash(app, picture) and row.shared_blob == picture
    # /mydata holds it; /forget deletes it.
    export = json.loads((await fake.wait_for_reply(await fake.run_slash("bob", "mydata"))).files[0][1])
    assert [(f["label"], f["model_answer"]) for f in export["feedback"]] == [("14", row.model_answer)]
    forgot = await fake.wait_for_reply(await fake.run_slash("bob", "forget"))
    assert "and 1 answer correction(s)" in forgot.text and await app.feedback.of_user(bob) == []
    assert fake.errors == []


async def test_buttons_sent_before_a_restart_still_work(home_with_model, point_discord_at, mnist):
    fake = await FakeDiscord().start()
    point_discord_at(fake)
    try:
        running = await start_bot(fake, home_with_model)
        answer = await fake.wait_for_reply(
            await fake.run_slash("bob", "digit", files={"image": ("a.png", mnist_png(mnist, 3), PNG)}))
        await stop_bot(running)
        running = await start_bot(fake, home_with_model)  # a new process: nothing of the old one in memory
        panel = (await click(fake, "bob", answer, "Was this right?")).original
        ok = next(label for label in labels(fake, panel) if label.startswith("It was "))
        await click(fake, "bob", panel, ok)
        assert panel.content.startswith("Thanks: noted that I was right (your picture was not kept)")
        [row] = await running.app.feedback.export()
        assert row.agrees and row.shared_blob is None
        await stop_bot(running)
    finally:
        await fake.stop()


async def test_tone_feedback_from_check_tone_in_a_server_without_the_bot(home_with_model, tiny_tone_root,
                                                                         point_discord_at):
    shutil.copytree(tiny_tone_root / "models" / "tone", home_with_model.root / "models" / "tone")
    async with bot_on_fake(home_with_model, point_discord_at) as running:
        fake, app = running.fake, running.app
        carol = fake.users["alice"]
        text = "Fine. Do whatever you want, as usual."
        target = p.message(p.snowflake(), fake.foreign_channel_id, carol, text, guild_id=fake.foreign_guild_id)
        record = await fake.run_context_menu("bob", "Check tone", target, user_install=True)
        answer = await fake.wait_for_reply(record)
        assert record.payload["authorizing_integration_owners"] == {"1": fake.users["bob"]["id"]}
        assert answer.ephemeral and "Tone check" in answer.text and labels(fake, answer) == ["Was this right?"]
        panel = (await click(fake, "bob", answer, "Was this right?")).original
        assert set(labels(fake, panel)) == {"friendly", "neutral", "passive-aggressive", "hostile",
                                            "Share the text: no"}
        await click(fake, "bob", panel, "Share the text: no")
        said = panel.content  # "I said it reads as ..."
        await click(fake, "bob", panel, "hostile")
        assert panel.content.startswith("Thanks: noted") and "your text was kept with it" in panel.content
        [row] = await app.feedback.of_user(app.user_key("discord", fake.users["bob"]["id"]))
        assert row.service == "tone" and row.label == "hostile" and row.shared_text == text
        assert row.input_hash == tone_input_hash(app, text) and row.model_answer.replace("_", "-") in said
        assert fake.errors == []


async def test_regenerate_a_track_with_a_new_seed(home_with_model, tiny_tracks_root, point_discord_at):
    install_models(home_with_model, tiny_tracks_root)
    async with bot_on_fake(home_with_model, point_discord_at) as running:
        fake = running.fake
        first = await fake.wait_for_reply(await fake.run_slash("bob", "track", {"seconds": 10, "instrument": "organ"}))
        assert labels(fake, first) == ["Regenerate"]
        refused = await click(fake, "alice", first, "Regenerate")
        assert refused.original.content.startswith("Only the person who asked") and refused.ephemeral
        record = await click(fake, "bob", first, "Regenerate")
        second = await fake.wait_for_reply(record, timeout=120)
        assert record.ack_type == 5 and not second.ephemeral  # thinking, then a new public answer
        seeds = [dict((f["name"], f["value"]) for f in m.embeds[0]["fields"])["seed"] for m in (first, second)]
        assert seeds[0] != seeds[1] and "10 s" in second.text and "organ" in second.text
        assert labels(fake, second) == ["Regenerate"] and fake.errors == []

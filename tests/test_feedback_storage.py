"""Feedback rows on both backends (SQLite and PostgreSQL): one per user and input, the user's
data for /mydata, /forget and the retention sweep, and the export for retraining."""
from __future__ import annotations

from storage.feedback import Feedback, FeedbackStore
from storage.transfer import copy_database
from storage.user_data import count_rows, expire_user_data, export_user


async def test_a_second_label_for_the_same_input_replaces_the_first(make_db):
    async with make_db() as db, make_db() as other:
        store = FeedbackStore(db)
        await store.record("u1", Feedback("tone", "h" * 32, "hostile", "neutral"), now=100.0)
        await store.record("u1", Feedback("tone", "h" * 32, "hostile", "hostile", shared_text="fine."), now=200.0)
        await store.record("u2", Feedback("tone", "h" * 32, "hostile", "friendly"), now=150.0)
        await store.record("u1", Feedback("digit", "d" * 32, "7", "1", shared_blob=b"\x89PNG picture"), now=300.0)
        mine = await FeedbackStore(other).of_user("u1")  # another process sees the rows
        assert [(f.service, f.label, f.shared_text, f.at) for f in mine] == [
            ("tone", "hostile", "fine.", 200.0), ("digit", "1", None, 300.0)]
        assert mine[0].agrees and not mine[1].agrees and mine[1].shared_blob == b"\x89PNG picture"
        exported = [f.as_json() for f in await store.export()]
        assert [(e["service"], e["label"], e["model_was_right"]) for e in exported] == [
            ("tone", "friendly", False), ("tone", "hostile", True), ("digit", "1", False)]
        assert "user_key" not in exported[0] and exported[1]["text"] == "fine."
        assert exported[2]["picture_png_base64"] == "iVBORyBwaWN0dXJl"
        assert [f.label for f in await store.export("digit")] == ["1"]


async def test_feedback_is_the_users_data_for_mydata_forget_and_retention(make_db):
    async with make_db() as db:
        store = FeedbackStore(db)
        await store.record("u1", Feedback("tone", "a" * 32, "neutral", "hostile", shared_text="ok then"), now=100.0)
        await store.record("u1", Feedback("digit", "b" * 32, "3", "8"), now=5_000.0)
        await store.record("u2", Feedback("digit", "b" * 32, "3", "3"), now=5_000.0)
        export = await export_user(db, "u1")
        assert [e["label"] for e in export["feedback"]] == ["hostile", "8"]
        assert export["feedback"][0]["text"] == "ok then" and count_rows(export) == 2
        # The retention sweep deletes rows untouched since the cutoff, anyone's.
        removed = await expire_user_data(db, before=1_000.0)
        assert removed["feedback"] == 1
        assert [e["label"] for e in (await export_user(db, "u1"))["feedback"]] == ["8"]
        assert await store.forget_user("u1") == 1
        assert (await export_user(db, "u1"))["feedback"] == []
        assert [f.label for f in await store.of_user("u2")] == ["3"]


async def test_feedback_rows_are_copied_between_databases(make_db, tmp_path):
    from storage import open_database

    async with make_db() as db, open_database(f"sqlite:///{tmp_path / 'copy.sqlite3'}") as copy:
        await FeedbackStore(db).record("u1", Feedback("digit", "c" * 32, "5", "6", shared_blob=b"png"), now=1.0)
        reports = {r.table: r for r in await copy_database(db, copy)}
        assert reports["feedback"].copied == 1 and reports["feedback"].complete
        assert [(f.label, f.shared_blob) for f in await FeedbackStore(copy).of_user("u1")] == [("6", b"png")]

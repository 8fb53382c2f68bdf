"""Users' corrections of /tone and /digit answers, kept for retraining.

One row per (user, service, input): pressing again changes the label. The input is a keyed
hash; its text (or, for /digit, the 28x28 picture the model saw) is kept only when the user
chose to share it. The rows are the user's data: /mydata lists them, /forget and the
retention setting delete them.
"""
from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

from storage.db import Database

COLUMNS = "service, input_hash, model_answer, label, shared_text, shared_blob, at"


@dataclass
class Feedback:
    service: str
    input_hash: str
    model_answer: str
    label: str
    shared_text: str | None = None
    shared_blob: bytes | None = None
    at: float = 0.0

    @property
    def agrees(self) -> bool:
        """The user said the model was right."""
        return self.label == self.model_answer

    def as_json(self) -> dict[str, Any]:
        """What `mlbot feedback export` and /mydata show (no user key)."""
        entry = {"service": self.service, "input_hash": self.input_hash, "model_answer": self.model_answer,
                 "label": self.label, "model_was_right": self.agrees, "at": self.at}
        if self.shared_text is not None:
            entry["text"] = self.shared_text
        if self.shared_blob is not None:
            entry["picture_png_base64"] = base64.b64encode(bytes(self.shared_blob)).decode("ascii")
        return entry


def _row(row) -> Feedback:
    service, input_hash, answer, label, text, blob, at = row
    return Feedback(service, input_hash, answer, label, text, bytes(blob) if blob is not None else None, float(at))


class FeedbackStore:
    def __init__(self, db: Database):
        self.db = db

    async def record(self, user_key: str, entry: Feedback, now: float | None = None) -> None:
        """Insert, or replace the user's earlier label for the same input (sharing follows the latest choice)."""
        at = time.time() if now is None else now
        async with self.db.transaction() as tx:
            await tx.execute(
                f"INSERT INTO feedback (user_key, {COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(user_key, service, input_hash) DO UPDATE SET model_answer = excluded.model_answer,"
                " label = excluded.label, shared_text = excluded.shared_text, shared_blob = excluded.shared_blob,"
                " at = excluded.at",
                (user_key, entry.service, entry.input_hash, entry.model_answer, entry.label, entry.shared_text,
                 entry.shared_blob, at))

    async def of_user(self, user_key: str) -> list[Feedback]:
        return [_row(r) for r in await self.db.fetchall(
            f"SELECT {COLUMNS} FROM feedback WHERE user_key = ? ORDER BY at", (user_key,))]

    async def export(self, service: str | None = None) -> list[Feedback]:
        """Every row, oldest first (one service's when given), for retraining."""
        where, params = ("WHERE service = ?", (service,)) if service else ("", ())
        return [_row(r) for r in await self.db.fetchall(f"SELECT {COLUMNS} FROM feedback {where} ORDER BY at",
                                                        params)]

    async def forget_user(self, user_key: str) -> int:
        async with self.db.transaction() as tx:
            return await tx.execute("DELETE FROM feedback WHERE user_key = ?", (user_key,))

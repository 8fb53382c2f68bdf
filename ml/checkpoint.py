"""Resumable training: one checkpoint file per service under MLBOT_HOME/models/<service>/_work.

A checkpoint records the training settings, how far training got, and the state of the
model, optimizer and schedule. It is resumed only when the settings are the same, so a
run with other settings never continues someone else's half-trained model.
"""
from __future__ import annotations

import io
import logging
from typing import Any

import torch

from ml.home import ModelHome, write_atomically

log = logging.getLogger(__name__)


class Checkpoint:
    def __init__(self, home: ModelHome, service: str, config: dict[str, Any]):
        self.service = service
        self.config = config
        self.path = home.work_dir(service) / "checkpoint.pt"

    def save(self, done: int, **parts: Any) -> None:
        """`done`: epochs or steps completed; `parts`: objects with state_dict()."""
        buffer = io.BytesIO()
        torch.save({"config": self.config, "done": done,
                    **{name: part.state_dict() for name, part in parts.items()}}, buffer)
        write_atomically(self.path, buffer.getvalue())

    def resume(self, **parts: Any) -> int:
        """Load the parts from a matching checkpoint; returns how far it got (0: start over)."""
        if not self.path.exists():
            return 0
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception:  # only our own scratch file: start over, but leave it for a look
            log.warning("%s: checkpoint %s unreadable, training from the start", self.service, self.path,
                        exc_info=True)
            return 0
        if state.get("config") != self.config or "done" not in state:
            log.info("%s: checkpoint was made with other settings, training from the start", self.service)
            return 0
        for name, part in parts.items():
            part.load_state_dict(state[name])
        log.info("%s: resuming after %d", self.service, state["done"])
        return int(state["done"])

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)

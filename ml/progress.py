"""Training progress that a terminal shows as bars and the bot reports as "43%, ETA 2 min".

Training code only calls `stage()` / `advance()`; whether bars are drawn is the caller's choice.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from tqdm import tqdm


class TrainingCancelled(Exception):
    """Raised between batches when a stop was requested; the last checkpoint stays."""


@dataclass
class ProgressSnapshot:
    service: str
    stage: str
    fraction: float
    eta_seconds: float | None
    elapsed_seconds: float


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 90:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    """Thread-safe: training advances it on a worker thread while the loop reads it.

    `weights` says how much of the whole job each stage is, so the ETA covers all stages.
    """

    def __init__(self, service: str, weights: dict[str, float] | None = None, bars: bool = False):
        self.service = service
        self.weights = weights or {}
        self.bars = bars
        self._lock = threading.Lock()
        self._stage = "starting"
        self._total = 1
        self._done = 0
        self._finished_weight = 0.0
        self._bar: tqdm | None = None
        self._started = time.monotonic()
        self._stage_started = self._started
        self._stage_start_done = 0
        self.cancel_requested = threading.Event()

    def stage(self, name: str, total: int, done: int = 0) -> None:
        with self._lock:
            if self._stage in self.weights and self._stage != name:
                self._finished_weight += self.weights[self._stage]
            self._stage, self._total, self._done = name, max(1, total), done
            self._stage_started = time.monotonic()
            self._stage_start_done = done
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            if self.bars:
                self._bar = tqdm(total=self._total, initial=done, desc=f"{self.service}: {name}", unit="step",
                                 dynamic_ncols=True, leave=True)

    def advance(self, n: int = 1, **postfix: object) -> None:
        with self._lock:
            self._done = min(self._total, self._done + n)
            if self._bar is not None:
                self._bar.update(n)
                if postfix:
                    self._bar.set_postfix(postfix, refresh=False)

    def raise_if_cancelled(self) -> None:
        if self.cancel_requested.is_set():
            raise TrainingCancelled(f"{self.service}: training stopped; the next run resumes from the last checkpoint")

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def snapshot(self) -> ProgressSnapshot:
        with self._lock:
            now = time.monotonic()
            stage_fraction = self._done / self._total
            total_weight = sum(self.weights.values()) or 1.0
            weight = self.weights.get(self._stage)
            if weight is None:
                fraction = stage_fraction
            else:
                fraction = (self._finished_weight + weight * stage_fraction) / total_weight
            eta = None
            stage_done = self._done - self._stage_start_done
            if stage_done > 0:
                rate = stage_done / max(1e-6, now - self._stage_started)
                eta = (self._total - self._done) / rate
                if weight is not None:
                    # Later stages: scale by their weight relative to this stage's pace.
                    seconds_per_weight = (self._total / rate) / weight if weight else 0
                    later = total_weight - self._finished_weight - weight
                    eta += max(0.0, later) * seconds_per_weight
            return ProgressSnapshot(self.service, self._stage, min(1.0, fraction), eta, now - self._started)

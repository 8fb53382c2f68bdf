"""One builder per model across the processes sharing an MLBOT_HOME.

A builder holds MLBOT_HOME/models/<service>/.build.lock (an OS file lock, so it is freed when
the process dies, however it dies) and writes its progress next to it in .build.json every
few seconds. Another process that wants the same model reads that file to say who is building
it and how far along, and waits for the model to be published, or for the lock to come free
(the builder died: then it resumes from the checkpoint itself).
"""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass

import filelock

from ml.home import ModelHome, write_atomically
from ml.progress import ProgressSnapshot, format_duration


@dataclass(frozen=True)
class BuildStatus:
    pid: int
    fraction: float
    stage: str
    eta_seconds: float | None
    updated_at: float

    def describe(self, service: str) -> str:
        eta = f", about {format_duration(self.eta_seconds)} left" if self.eta_seconds is not None else ""
        return (f"the {service} model is being built by process {self.pid} "
                f"({self.fraction:.0%}{', ' + self.stage if self.stage else ''}{eta})")


class BuildLock:
    def __init__(self, home: ModelHome, service: str):
        self.service = service
        folder = home.service_dir(service)
        folder.mkdir(parents=True, exist_ok=True)
        self.status_path = folder / ".build.json"
        self._lock = filelock.FileLock(folder / ".build.lock", timeout=0)

    def try_acquire(self) -> bool:
        try:
            self._lock.acquire()
        except filelock.Timeout:
            return False
        self.report(None)
        return True

    def acquire(self, poll: float = 2.0) -> None:
        """Wait for the lock however long it takes."""
        self._lock.acquire(timeout=-1, poll_interval=poll)
        self.report(None)

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def release(self) -> None:
        if self._lock.is_locked:
            try:
                self.status_path.unlink()
            except FileNotFoundError:
                pass
            self._lock.release()

    def report(self, snapshot: ProgressSnapshot | None) -> None:
        """The builder says how far it is (called every few seconds while it trains)."""
        status = {"pid": os.getpid(), "fraction": snapshot.fraction if snapshot else 0.0,
                  "stage": snapshot.stage if snapshot else "starting",
                  "eta_seconds": snapshot.eta_seconds if snapshot else None, "updated_at": time.time()}
        write_atomically(self.status_path, json.dumps(status).encode())

    def holder(self) -> BuildStatus | None:
        """What the process building this model last said, or None if nobody is building it."""
        try:
            data = json.loads(self.status_path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return BuildStatus(int(data["pid"]), float(data["fraction"]), str(data.get("stage") or ""),
                           data.get("eta_seconds"), float(data["updated_at"]))


class ProgressReporter:
    """Writes the builder's progress into the lock's status file every `interval` seconds, on a
    thread, for as long as the `with` block (the training) runs."""

    def __init__(self, lock: BuildLock, progress, interval: float = 2.0):
        self.lock, self.progress, self.interval = lock, progress, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"build-status-{lock.service}", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.lock.report(self.progress.snapshot())
            except OSError:
                pass  # a status line is a courtesy; the training goes on

    def __enter__(self) -> "ProgressReporter":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

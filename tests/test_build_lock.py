"""One builder per model across processes on one MLBOT_HOME: the second process says who is
building it and how far along, and picks the model up when it is published."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

from bot.training import BackgroundTrainer
from ml.build_lock import BuildLock
from ml.progress import ProgressSnapshot
from ml.services import SERVICES


def test_a_second_lock_is_refused_and_reads_the_builders_progress(home):
    builder, other = BuildLock(home, "essay"), BuildLock(home, "essay")
    assert builder.try_acquire() and not other.try_acquire()
    builder.report(ProgressSnapshot("essay", "epoch 2/5", 0.45, 130.0, 60.0))
    line = other.holder().describe("essay")
    assert line.startswith(f"the essay model is being built by process {os.getpid()} (45%, epoch 2/5")
    builder.release()
    assert other.try_acquire() and other.holder().pid == os.getpid()
    other.release()


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


async def test_the_second_process_waits_and_picks_up_the_published_model(home):
    builder = subprocess.Popen([sys.executable, "-m", "bot.adapters.cli", "train", "digits", "--quick"],
                               env={**os.environ, "MLBOT_HOME": str(home.root)},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lock = BuildLock(home, "digits")
        await asyncio.to_thread(wait_for, lambda: lock.holder() is not None, 60, "the builder to start")
        published: list[str] = []
        trainer = BackgroundTrainer(home, specs=[SERVICES["digits"]], quick=True,
                                    on_published=lambda name, ref: published.append(ref.version))
        trainer.poll_seconds = 0.2
        assert trainer.start() == ["digits"]
        await asyncio.sleep(0.5)
        assert trainer.describe("digits").startswith(f"the digits model is being built by process {builder.pid} (")
        await asyncio.wait_for(trainer.wait(), timeout=120)
        assert builder.wait(timeout=60) == 0, builder.stdout.read()
        assert published == [home.current("digits").version]
        # Built once: this trainer never started a child of its own (a child logs train-digits.log).
        assert not (home.root / "logs" / "train-digits.log").exists()
    finally:
        if builder.poll() is None:
            builder.kill()


HOLD_THE_LOCK = textwrap.dedent("""
    import sys, time
    from ml.build_lock import BuildLock
    from ml.home import ModelHome
    lock = BuildLock(ModelHome(sys.argv[1]), "digits")
    assert lock.try_acquire()
    print("holding", flush=True)
    time.sleep(600)
""")


async def test_when_the_builder_dies_the_waiting_process_builds_it(home):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(home.root)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    published: list[str] = []
    trainer = BackgroundTrainer(home, specs=[SERVICES["digits"]], quick=True,
                                on_published=lambda name, ref: published.append(ref.version))
    trainer.poll_seconds = 0.2
    trainer.start()
    await asyncio.sleep(0.5)
    assert "being built by process" in trainer.describe("digits") and trainer.building == {}
    os.kill(holder.pid, signal.SIGKILL)  # the lock goes with the process, however it ends
    holder.wait()
    await asyncio.wait_for(trainer.wait(), timeout=180)
    assert published == [home.current("digits").version]
    assert (home.root / "logs" / "train.log").exists()  # it was built here, by this trainer's child
    assert not (home.service_dir("digits") / ".build.json").exists()

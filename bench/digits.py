"""Digit reader benchmark -> JSON: training wall time, test accuracy, latency, throughput, peak RSS,
and each stage's p50 on ~1 MP JPEG photos (decode, ink signal, background, threshold, marks,
normalize, model, answer), with the machine's load average beside them.

    python bench/digits.py                 # trains a fresh model in a temporary MLBOT_HOME
    python bench/digits.py --use-current   # measures the model already in MLBOT_HOME
    python bench/digits.py --use-current --only-megapixel --out FILE   # the speed figure alone
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.digits.data import load_mnist  # noqa: E402
from ml.digits.pages import megapixel_photo  # noqa: E402
from ml.digits.reader import DigitReader  # noqa: E402
from ml.digits.synthetic import render_photo  # noqa: E402
from ml.digits.train import TrainConfig, train_digits  # noqa: E402
from ml.home import ModelHome  # noqa: E402
from ml.progress import Progress  # noqa: E402
from ml.runtime import cap_torch_threads  # noqa: E402


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": round(memory, 1),
            "python": platform.python_version(), "platform": platform.platform()}


def png_bytes(array: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def percentile_ms(samples: list[float], q: float) -> float:
    return round(float(np.percentile(samples, q)) * 1000, 2)


def megapixel_stages(reader: DigitReader, photos: list[bytes], rounds: int) -> dict:
    """End-to-end and per-stage p50 over `rounds` passes through the photos, in ms."""
    stages: dict[str, list[float]] = {}
    totals, cpu = [], []
    for _ in range(rounds):
        for payload in photos:
            marks = {}
            cpu_start = time.thread_time()
            last = start = time.perf_counter()

            def lap(stage: str) -> None:
                nonlocal last
                now = time.perf_counter()
                marks[stage] = marks.get(stage, 0.0) + now - last
                last = now

            reader.read(payload, lap)
            totals.append(time.perf_counter() - start)
            cpu.append(time.thread_time() - cpu_start)
            for stage, seconds in marks.items():
                stages.setdefault(stage, []).append(seconds)
    return {
        "n": len(totals),
        "p50_ms": percentile_ms(totals, 50),
        "p95_ms": percentile_ms(totals, 95),
        # This thread's CPU time: on a loaded machine, nearer what a quiet one would take.
        "cpu_p50_ms": percentile_ms(cpu, 50),
        # A stage that runs for only some photos (a second, full-size look) shows its share.
        "stages_p50_ms": {stage: {"p50": percentile_ms(times, 50), "runs": len(times)} for stage, times in stages.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--use-current", action="store_true")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--megapixel-rounds", type=int, default=10, help="passes over 50 ~1 MP photos")
    parser.add_argument("--only-megapixel", action="store_true", help="skip the other figures")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "digits.json"))
    args = parser.parse_args()

    threads = cap_torch_threads()
    data = load_mnist()
    result: dict = {"benchmark": "digits", "machine": machine(), "torch_threads": threads}
    if args.use_current:
        ref = ModelHome().current("digits")
        if ref is None:
            sys.exit("no digit model in MLBOT_HOME; run `mlbot train digits` or drop --use-current")
    else:
        home = ModelHome(Path(tempfile.mkdtemp(prefix="mlbot-bench-")))
        started = time.perf_counter()
        ref = train_digits(home, TrainConfig(), Progress("digits", bars=False), data=data)
        result["train_seconds"] = round(time.perf_counter() - started, 1)
    result["model_version"] = ref.version
    result["test_accuracy"] = ref.card["metrics"]["test_accuracy"]

    reader = DigitReader(ref)
    rng = np.random.default_rng(0)
    big = [megapixel_photo([data.test_images[i]], rng) for i in range(50)]
    reader.read(big[0])  # warm-up: loads the model
    result["load_before"] = os.getloadavg()
    result["megapixel_jpeg"] = megapixel_stages(reader, big, args.megapixel_rounds)
    result["load_after"] = os.getloadavg()
    if args.only_megapixel:
        write(result, args.out)
        return
    photos = [render_photo([data.test_images[i]], rng) for i in range(args.requests)]
    drawings = [png_bytes(255 - data.test_images[i]) for i in range(args.requests)]
    reader.read(photos[0])  # warm-up: loads the model

    for name, inputs in (("photo", photos), ("drawing", drawings)):
        latencies = []
        for payload in inputs:
            start = time.perf_counter()
            reader.read(payload)
            latencies.append(time.perf_counter() - start)
        result[f"{name}_latency_ms"] = {"p50": percentile_ms(latencies, 50), "p95": percentile_ms(latencies, 95)}
        result[f"{name}_images_per_second"] = round(len(inputs) / sum(latencies), 1)

    batch = data.test_images[:4096].astype(np.float32) / 255
    start = time.perf_counter()
    for i in range(0, len(batch), 256):
        reader.probabilities(batch[i : i + 256])
    result["model_only_batch256_images_per_second"] = round(len(batch) / (time.perf_counter() - start), 0)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    write(result, args.out)


def write(result: dict, out: str) -> None:
    text = json.dumps(result, indent=2)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

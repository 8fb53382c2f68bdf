"""Tone checker benchmark -> JSON: single-message latency p50/p95 (with and without the
leave-one-out explanation), batch throughput, peak RSS.

    python bench/tone.py        (needs a tone model in MLBOT_HOME: `mlbot train tone`)
"""
from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.digits import machine  # noqa: E402
from ml.home import ModelHome  # noqa: E402
from ml.runtime import cap_torch_threads, fast_bf16  # noqa: E402
from ml.tone.data import load_tone  # noqa: E402
from ml.tone.predictor import TonePredictor  # noqa: E402


def ms(values, q):
    return round(float(np.percentile(values, q)) * 1000, 1)


def main() -> None:
    threads = cap_torch_threads()
    ref = ModelHome().current("tone")
    if ref is None:
        sys.exit("no tone model in MLBOT_HOME; run `mlbot train tone` first")
    predictor = TonePredictor(ref)
    _, test = load_tone()
    texts = [e.text for e in test]
    predictor.check_many(texts[:8])  # warm-up
    result = {"benchmark": "tone", "machine": machine(), "torch_threads": threads, "bf16": fast_bf16(),
              "model_version": ref.version}
    for name, explain in (("verdict", False), ("verdict_and_explanation", True)):
        latencies = []
        for text in texts[:150]:
            start = time.perf_counter()
            predictor.check(text, explain=explain)
            latencies.append(time.perf_counter() - start)
        result[f"single_{name}_ms"] = {"p50": ms(latencies, 50), "p95": ms(latencies, 95)}
    start = time.perf_counter()
    predictor.check_many(texts)
    result["batch_messages_per_second"] = round(len(texts) / (time.perf_counter() - start), 1)
    result["batch_size"] = len(texts)
    result["mean_words"] = round(float(np.mean([len(t.split()) for t in texts])), 1)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    text = json.dumps(result, indent=2)
    (Path(__file__).parent / "results" / "tone.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

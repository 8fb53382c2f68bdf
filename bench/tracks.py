"""Tracks composer benchmark -> JSON: time to compose a 30-second clip (generate / render /
encode, p50 and p95 over several seeds and instruments), model load time, peak RSS.

    python bench/tracks.py        (needs a tracks model in MLBOT_HOME: `mlbot train tracks`)
    python bench/tracks.py --fallback --out bench/results/tracks_fallback.json
                                  (the numpy synthesiser and WAV, as without FluidSynth and ffmpeg)
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.digits import machine  # noqa: E402
from ml.home import ModelHome  # noqa: E402
from ml.runtime import cap_torch_threads  # noqa: E402
from ml.tracks.compose import TrackComposer  # noqa: E402
from ml.tracks import render  # noqa: E402


def percentiles(values: list[float]) -> dict[str, float]:
    return {"p50": round(float(np.percentile(values, 50)), 4), "p95": round(float(np.percentile(values, 95)), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--tempo", type=int, default=100)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "tracks.json"))
    parser.add_argument("--fallback", action="store_true",
                        help="measure the numpy synthesiser and WAV even where FluidSynth and ffmpeg exist")
    args = parser.parse_args()
    if args.fallback:  # the renderer asks these two at every clip
        render.fluidsynth_available = lambda: False
        render.ffmpeg_path = lambda: None

    threads = cap_torch_threads()
    ref = ModelHome().current("tracks")
    if ref is None:
        sys.exit("no tracks model in MLBOT_HOME; run `mlbot train tracks`")
    composer = TrackComposer(ref)
    started = time.perf_counter()
    composer.generator  # noqa: B018  (load now, so that load time is not in the first clip)
    load_seconds = time.perf_counter() - started
    composer.compose(seed=10_000, seconds=args.seconds, tempo=args.tempo)  # warm up numpy/torch paths

    instruments = list(render.INSTRUMENTS)
    runs = []
    for seed in range(args.seeds):
        instrument = instruments[seed % len(instruments)]
        start = time.perf_counter()
        track = composer.compose(seed=seed, seconds=args.seconds, instrument=instrument, tempo=args.tempo)
        total = time.perf_counter() - start
        runs.append({"seed": seed, "instrument": instrument, "total": total, **track.timings,
                     "audio_ext": track.audio_ext, "audio_bytes": len(track.audio), "midi_bytes": len(track.midi),
                     "title": track.title})
    result = {
        "benchmark": "tracks",
        "machine": machine(),
        "torch_threads": threads,
        "model_version": ref.version,
        "clip_seconds": args.seconds,
        "tempo": args.tempo,
        "synth": "fluidsynth" if render.fluidsynth_available() else "numpy",
        "audio_format": runs[0]["audio_ext"],
        "ffmpeg": render.ffmpeg_path() is not None,
        "load_seconds": round(load_seconds, 3),
        "compose_seconds": {part: percentiles([r[part] for r in runs])
                            for part in ("total", "generate", "render", "encode")},
        "runs": [{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()} for r in runs],
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    text = json.dumps(result, indent=2)
    Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

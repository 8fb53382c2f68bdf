"""Friend benchmark -> JSON: the engines side by side (time to first token, decode tokens/s,
memory), for a first turn (whole prompt run) and follow-up turns (key/values reused):

  * llama.cpp on the published Q8_0 GGUF (what the bot uses when llama-cpp-python is built),
  * llama.cpp on the shipped Q4_1 GGUF,
  * transformers bf16 (the fallback), and transformers float32 with int8 dynamic quantization
    of the linear layers (torch.ao), the cheapest of the torch-side speed-ups to try.

    python bench/friend.py        (needs the friend model in MLBOT_HOME: `mlbot train friend`)

The llama-cpp-python build time at set-up is read from .venv/.llama-cpp-build-seconds, which
deploy/bootstrap.sh writes.
"""
from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.digits import machine  # noqa: E402
from bench.runtime import current_rss_mib  # noqa: E402
from ml.friend.conversation import DEFAULT_PERSONA, Friend, Memory, Turn  # noqa: E402
from ml.friend.engine import GGUF_NAME, llama_cpp_available  # noqa: E402
from ml.friend.torch_engine import TorchChatModel  # noqa: E402
from ml.home import ModelHome  # noqa: E402
from ml.runtime import cap_torch_threads  # noqa: E402

CHATS = [
    ["Hi! I just got back from a long walk with my dog Rex.", "He loves the beach. Do you like dogs?",
     "What should we do this weekend?"],
    ["I'm nervous about my exam tomorrow.", "It's chemistry. I studied all week.", "Any tips to sleep well tonight?"],
    ["I started learning the guitar.", "My fingers hurt a lot!", "What song should I learn first?"],
    ["Work was really busy today.", "My boss asked me to lead a new project.", "How do I say no politely?"],
]


def run_chats(model) -> dict:
    friend = Friend(model)
    friend.reply(DEFAULT_PERSONA, "Alex", Memory(), "warm up", seed=0)
    turns = []
    for number, chat in enumerate(CHATS):
        memory = Memory()
        conversation = f"bench-{number}"
        for turn, message in enumerate(chat):
            reply = friend.reply(DEFAULT_PERSONA, "Alex", memory, message, seed=turn, conversation=conversation)
            decode = reply.seconds - reply.first_token_seconds
            turns.append({"turn": turn + 1, "prompt_tokens": reply.prompt_tokens, "reused_tokens": reply.reused_tokens,
                          "first_token_seconds": round(reply.first_token_seconds, 3),
                          "tokens": reply.tokens, "seconds": round(reply.seconds, 3),
                          "tokens_per_second": round((reply.tokens - 1) / decode, 1) if decode > 0 else None,
                          "reply": reply.text})
            memory.turns += [Turn("user", "Alex", message), Turn("assistant", "friend", reply.text)]
    first = [t for t in turns if t["turn"] == 1]
    later = [t for t in turns if t["turn"] > 1]
    rates = [t["tokens_per_second"] for t in turns if t["tokens_per_second"]]
    return {
        "first_token_seconds": {
            "first_turn_p50": round(statistics.median(t["first_token_seconds"] for t in first), 3),
            "later_turns_p50": round(statistics.median(t["first_token_seconds"] for t in later), 3),
            "max": round(max(t["first_token_seconds"] for t in turns), 3),
        },
        "tokens_per_second": {"p50": round(statistics.median(rates), 1), "min": round(min(rates), 1)},
        "turns": turns,
    }


def engines(path: Path):
    """(name, loader) of every engine this machine can run."""
    if llama_cpp_available():
        from ml.friend.convert import find_gguf
        from ml.friend.llama_engine import LlamaChatModel

        if (path / GGUF_NAME).exists():
            yield "llama.cpp q8_0", lambda: LlamaChatModel(path / GGUF_NAME)
        yield "llama.cpp q4_1 (as shipped)", lambda: LlamaChatModel(find_gguf())
    yield "torch bf16", lambda: TorchChatModel(path)

    def int8():
        import torch

        model = TorchChatModel(path, dtype="float32")
        model.model = torch.ao.quantization.quantize_dynamic(model.model, {torch.nn.Linear}, dtype=torch.qint8)
        model.name = "torch int8 dynamic"
        return model
    yield "torch int8 dynamic", int8


def main() -> None:
    threads = cap_torch_threads()
    ref = ModelHome().current("friend")
    if ref is None:
        raise SystemExit("no friend model: run `mlbot train friend` first")
    results = {}
    for name, load in engines(ref.path):
        before_load = current_rss_mib()
        started = time.perf_counter()
        try:
            model = load()
        except Exception as error:  # an engine this machine cannot run is reported, not fatal
            results[name] = {"error": f"{type(error).__name__}: {error}"}
            continue
        load_seconds = time.perf_counter() - started
        measured = run_chats(model)
        results[name] = {"load_seconds": round(load_seconds, 2),
                         "model_rss_mib": round(current_rss_mib() - before_load, 1), **measured}
        print(f"{name}: {measured['tokens_per_second']['p50']} tokens/s, first token "
              f"{measured['first_token_seconds']['first_turn_p50']} s", file=sys.stderr)
        del model
    build = Path(__file__).resolve().parents[1] / ".venv" / ".llama-cpp-build-seconds"
    best = max((n for n in results if "error" not in results[n]),
               key=lambda n: results[n]["tokens_per_second"]["p50"])
    result = {
        "benchmark": "friend",
        "machine": machine(),
        "torch_threads": threads,
        "model_version": ref.version,
        "llama_cpp_build_seconds": float(build.read_text()) if build.exists() else None,
        "fastest": best,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "engines": results,
    }
    text = json.dumps(result, indent=2)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "friend.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

"""Friend benchmark -> JSON: time to first token, decode tokens/s and the process's memory,
for a first turn (whole prompt run) and follow-up turns (the conversation's key/values reused).

    python bench/friend.py        (needs the friend model in MLBOT_HOME: `mlbot train friend`)
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
from ml.friend.model import ChatModel  # noqa: E402
from ml.home import ModelHome  # noqa: E402
from ml.runtime import cap_torch_threads  # noqa: E402

CHATS = [
    ["Hi! I just got back from a long walk with my dog Rex.", "He loves the beach. Do you like dogs?",
     "What should we do this weekend?"],
    ["I'm nervous about my exam tomorrow.", "It's chemistry. I studied all week.", "Any tips to sleep well tonight?"],
    ["I started learning the guitar.", "My fingers hurt a lot!", "What song should I learn first?"],
    ["Work was really busy today.", "My boss asked me to lead a new project.", "How do I say no politely?"],
]


def main() -> None:
    threads = cap_torch_threads()
    before_load = current_rss_mib()
    started = time.perf_counter()
    ref = ModelHome().current("friend")
    if ref is None:
        raise SystemExit("no friend model: run `mlbot train friend` first")
    model = ChatModel(ref.path)
    load_seconds = time.perf_counter() - started
    model_rss = current_rss_mib() - before_load
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
    result = {
        "benchmark": "friend",
        "machine": machine(),
        "torch_threads": threads,
        "model_version": ref.version,
        "dtype": model.dtype,
        "load_seconds": round(load_seconds, 2),
        "first_token_seconds": {
            "first_turn_p50": round(statistics.median(t["first_token_seconds"] for t in first), 3),
            "later_turns_p50": round(statistics.median(t["first_token_seconds"] for t in later), 3),
            "max": round(max(t["first_token_seconds"] for t in turns), 3),
        },
        "tokens_per_second": {"p50": round(statistics.median(rates), 1), "min": round(min(rates), 1)},
        "model_rss_mib": round(model_rss, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "turns": turns,
    }
    text = json.dumps(result, indent=2)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "friend.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

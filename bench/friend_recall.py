"""The friend's memory without the chat model: for every turn that asks about something told
earlier, does the plan find it, and does the written fallback say it (and read as kind)?

Fast (MiniLM and the tone model only), for developing the fact extractor and the matching on
a dev set (ml/friend/data/dev_conversations.jsonl) apart from the evaluation's conversations.
The full reply, model included, is `mlbot eval friend`.

    .venv/bin/python bench/friend_recall.py [conversations.jsonl ...] [--json] [--misses]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ml.friend.conversation import DEFAULT_PERSONA, Friend, Memory  # noqa: E402
from ml.friend.facts import extract_facts  # noqa: E402
from ml.friend.recall import FactFinder, MiniLMSimilarity, first_person_sentences  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "ml" / "friend" / "data"


def _has(text: str, phrase: str) -> bool:
    return phrase.lower().replace("’", "'") in text.lower().replace("’", "'")


def recall_turns(path: Path):
    """(conversation id, memory, question, expect_any, expect_all) for each recall question."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        conversation = json.loads(line)
        if conversation["category"] in ("persona", "system_claim"):
            continue
        facts, said = {}, []
        for turn in conversation["turns"]:
            expected = turn.get("expect_any") or turn.get("expect_all")
            if expected and not turn.get("never_told"):
                memory = Memory("", list(facts.values()), [], first_person_sentences(said))
                yield conversation["id"], memory, turn["say"], turn.get("expect_any"), turn.get("expect_all")
            for fact in extract_facts(turn["say"]):
                facts[fact.key] = fact
            said.append(turn["say"])


def measure(paths: list[Path], judges=None) -> dict:
    sentence_judge, judge = judges or (None, None)
    friend = Friend(model=None, judge=judge, sentence_judge=sentence_judge, finder=FactFinder(MiniLMSimilarity()))
    rows = []
    for path in paths:
        for cid, memory, question, any_of, all_of in recall_turns(path):
            plan = friend.plan(question, memory, DEFAULT_PERSONA)
            told = friend._fallback(plan, 0) if plan.recall.answered else ""
            ok = any(_has(told, p) for p in any_of) if any_of else all(_has(told, p) for p in all_of)
            unkind = (judge(told) or sentence_judge(told)) if judge and told else None
            rows.append({"id": cid, "asked": plan.recall.asked, "found": ok, "fallback": told, "unkind": unkind,
                         "question": question[:100], "expected": any_of or all_of})
    n = len(rows)
    return {"turns": n, "asked": sum(r["asked"] for r in rows), "found": sum(r["found"] for r in rows),
            "found_share": round(sum(r["found"] for r in rows) / n, 3) if n else None,
            "unkind_fallbacks": sum(bool(r["unkind"]) for r in rows), "rows": rows}


def _tone_judge():
    from ml.friend.kindness import tone_judges
    from ml.home import ModelHome

    ref = ModelHome().current("tone")
    if ref is None:
        return None
    from ml.tone.predictor import TonePredictor

    return tone_judges(TonePredictor(ref))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--misses", action="store_true", help="print the turns whose fallback misses or is unkind")
    args = parser.parse_args()
    judges = _tone_judge()
    result = measure(args.files or [DATA / "dev_conversations.jsonl"], judges)
    result["tone_model"] = judges is not None
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    print({k: v for k, v in result.items() if k != "rows"})
    if args.misses:
        for row in result["rows"]:
            if not row["found"] or row["unkind"]:
                print(f"{row['id']}: asked={row['asked']} {row['question']!r}\n   -> {row['fallback']!r} "
                      f"expected {row['expected']} {row['unkind'] or ''}")


if __name__ == "__main__":
    main()

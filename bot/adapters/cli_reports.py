"""`mlbot stats`, `mlbot mydata` and `mlbot feedback export`: those commands, for the operator's shell."""
from __future__ import annotations

import json

from ml.home import ModelHome


def add_report_parsers(sub) -> None:
    stats = sub.add_parser("stats", help="the last day per service: commands, cache hits, median latency, busy",
                           description="What /stats shows, for every server and DM, from the command log in the "
                                       "database (every process, across restarts).")
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    mydata = sub.add_parser("mydata", help="print everything stored about a CLI user as JSON",
                            description="What /mydata sends: the cached results of the user's requests, the "
                                        "friend's memory of them and their rate-limit events.")
    mydata.add_argument("--user", default=None, help="the CLI user, as `mlbot friend --user` (default: your login)")
    feedback = sub.add_parser("feedback", help="users' corrections of /tone and /digit answers",
                              description="What users sent with the \"Was this right?\" button.")
    feedback_sub = feedback.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    export = feedback_sub.add_parser("export", help="every correction, for retraining",
                                     description="Each correction: the service, a keyed hash of the input, the "
                                                 "model's answer, the user's label, and the text (or the 28x28 "
                                                 "picture, base64 PNG) where the user chose to share it.")
    export.add_argument("--service", choices=("tone", "digit"), help="one service's corrections only")
    export.add_argument("--json", action="store_true", help="print one JSON object")


def run_stats(args, home: ModelHome) -> int:
    from bot.adapters.cli import _fail, _run_one

    reply = _run_one(home, "stats")
    if reply.is_error:
        return _fail(reply.text)
    print(json.dumps(reply.data) if args.json else reply.as_text())
    return 0


def run_mydata(args, home: ModelHome) -> int:
    from bot.adapters.cli import _fail, _run_one
    from bot.users import local_user_name

    user = (args.user or "").strip() or local_user_name()
    reply = _run_one(home, "mydata", user=user)
    if reply.is_error:
        return _fail(reply.text)
    print(json.dumps(reply.data["export"], indent=2, sort_keys=True, ensure_ascii=False))
    return 0


def run_feedback(args, home: ModelHome) -> int:
    from bot.adapters.cli import _fail, _run_one

    arguments = {"service": args.service} if args.service else {}
    reply = _run_one(home, "feedback export", **arguments)
    if reply.is_error:
        return _fail(reply.text)
    print(json.dumps(reply.data, ensure_ascii=False) if args.json else reply.as_text())
    return 0

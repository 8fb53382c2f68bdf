"""The `mlbot` command line: console, run, train, eval, and one-shot service commands."""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from bot.adapters.cli_db import add_db_parser, run_db
from bot.adapters.cli_reports import add_report_parsers, run_feedback, run_mydata, run_stats
from bot.adapters.cli_gateway import GatewayRefused, add_cluster_parser, add_shard_options
from bot.logs import register_secret, setup_logging
from ml.home import ModelHome

log = logging.getLogger("mlbot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlbot",
        description="A Discord bot with machine-learning services trained on this machine.",
        epilog="Models and data live in MLBOT_HOME (default ~/.local/share/mlbot).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("console", help="chat with the bot in this terminal",
                   description="A REPL over the bot's commands (/help lists them). Missing models "
                               "are built in the background.")
    run = sub.add_parser("run", help="start the bot: on Discord when DISCORD_TOKEN is set, else the console",
                         description="Start the bot. With DISCORD_TOKEN (or DISCORD_TOKEN_FILE) set it connects to "
                                     "Discord; otherwise it opens the terminal console. Missing models are built in "
                                     "the background, one at a time. --shard-count/--shard-ids run the gateway as "
                                     "discord.py's AutoShardedClient holding those shards (several processes need "
                                     "MLBOT_DATABASE_URL).")
    add_shard_options(run)
    add_cluster_parser(sub)

    train = sub.add_parser("train", help="build a service's model (with progress bars)",
                           description="Train a model and publish it under MLBOT_HOME with a model card. "
                                       "Interrupt with Ctrl-C: the next run resumes from the last checkpoint.")
    train.add_argument("service", help="a service name (digits, tone, friend, essay, tracks) or 'all'")
    train.add_argument("--quick", action="store_true", help="a small model in seconds (smoke tests)")
    train.add_argument("--no-bars", action="store_true", help="no progress bars (progress still goes to the "
                                                              "build status file the bot reads)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0); same seed, same model")
    train.add_argument("--corpus", metavar="DIR", help="essay: a folder of .txt/.md essays to learn a style from")
    train.add_argument("--name", help="essay: the style's name for --corpus (letters, digits, - and _)")
    train.add_argument("--on-ray", action="store_true", help="train as a task on the Ray cluster at "
                                                             "MLBOT_RAY_ADDRESS, writing to the shared MLBOT_HOME")
    train.add_argument("--model-home", help="--on-ray: MLBOT_HOME as the cluster's nodes see it (default: this "
                                            "machine's path)")
    train.add_argument("--num-cpus", type=float, default=1.0, help="--on-ray: CPUs the task holds (default 1)")

    evaluate = sub.add_parser("eval", help="measure a service's model on held-out data",
                              description="Quality figures of the current model next to a simple baseline "
                                          "measured on the same held-out data.")
    evaluate.add_argument("service", help="a service name (digits, tone, friend, essay, tracks)")
    evaluate.add_argument("--style", help="essay: which style's model (default: sotu)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--photos", type=int, default=500,
                          help="digits: how many photo-like renderings to read end to end (default 500, 0 skips)")
    evaluate.add_argument("--other-writers", type=int, default=200, metavar="N",
                          help="digits: pen-stroke drawings in the other-writers set, read beside every installed "
                               "font's digits (default 200, 0 skips the set)")

    digit = sub.add_parser("digit", help="read handwritten digits from image files",
                           description="Read the digit (or the number, digit by digit) in each image.")
    digit.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, WebP, GIF or BMP files")
    digit.add_argument("--json", action="store_true", help="one JSON line per image on stdout")
    tone = sub.add_parser("tone", help="check messages for passive aggression, hostility and sentiment",
                          description="Check one message, or a file of messages (one per line).")
    tone.add_argument("text", nargs="?", help="the message (quote it)")
    tone.add_argument("--file", help="a UTF-8 file with one message per line")
    tone.add_argument("--json", action="store_true", help="one JSON line per message on stdout")
    essay = sub.add_parser("essay", help="write an essay on a topic",
                           description="Write an essay with the LSTM trained on example essays: a title, an "
                                       "introduction, body paragraphs and a conclusion.")
    essay.add_argument("topic", help="what the essay is about (quote it)")
    essay.add_argument("--words", type=int, default=400, help="length in words, 100-1500 (default 400)")
    essay.add_argument("--seed", type=int, default=0, help="same seed, same essay (default 0)")
    essay.add_argument("--style", default="sotu", help="which trained style (default sotu)")
    essay.add_argument("--temperature", type=float, default=0.8, help="0.2-1.5 (default 0.8)")
    essay.add_argument("--top-p", type=float, default=0.92, help="0.5-1.0 (default 0.92)")
    essay.add_argument("--opening", default="plain", help="plain (default) or ceremony: allow the style's own "
                                                          "salutations (\"Mr. Speaker...\")")
    essay.add_argument("--json", action="store_true", help="print one JSON object")
    track = sub.add_parser("track", help="compose a music clip with the GAN (audio + MIDI)",
                           description="Compose a clip; writes the audio to --out and the MIDI next to it (.mid).")
    track.add_argument("--seed", type=int, default=0, help="same seed, same track (default 0)")
    track.add_argument("--seconds", type=int, default=30, help="length, 10-60 s (default 30)")
    track.add_argument("--instrument", default="piano", help="piano, organ, strings, flute, guitar, choir, chiptune")
    track.add_argument("--tempo", type=int, default=100, help="beats per minute, 40-200 (default 100)")
    track.add_argument("--out", default="track", help="audio file path; the extension is set to the format written "
                                                       "(.ogg with ffmpeg, else .wav)")
    track.add_argument("--json", action="store_true", help="print one JSON object")
    friend = sub.add_parser("friend", help="talk with the friend (it remembers each --user)",
                            description="Say something to the friend-as-a-bot. The same --user keeps its "
                                        "memory (turns, summary, facts) between calls.")
    friend.add_argument("message", help="what you say (quote it)")
    friend.add_argument("--user", default=None, help="who is talking (default: your login name)")
    friend.add_argument("--persona", help="set the persona it takes with this user (`default` resets it)")
    friend.add_argument("--json", action="store_true", help="print one JSON object")
    add_db_parser(sub)
    add_report_parsers(sub)
    serve = sub.add_parser("serve", help="deploy the models on Ray Serve (MLBOT_RAY_ADDRESS)",
                           description="Deploy, or update, the Ray Serve application 'mlbot' on the cluster at "
                                       "MLBOT_RAY_ADDRESS with each service's current model version. Run it again "
                                       "after training to roll the new version out.")
    serve.add_argument("--config", help="the deployments' settings (default deploy/serve.yaml)")
    serve.add_argument("--model-home", help="where replicas find MLBOT_HOME (default: this machine's path; it must "
                                            "be the same folder on every worker, e.g. a shared mount)")
    serve.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    home = ModelHome()
    try:
        setup_logging(home.root)
    except OSError as exc:
        print(f"mlbot: cannot write to MLBOT_HOME {home.root}: {exc}", file=sys.stderr)
        return 2
    handler = {"console": _console, "run": _run, "train": _train, "eval": _eval, "digit": _digit,
               "tone": _tone, "essay": _essay,
               "track": _track, "friend": _friend, "db": run_db, "cluster": _cluster,
               "serve": _serve, "stats": run_stats, "mydata": run_mydata, "feedback": run_feedback}[args.command]
    try:
        return handler(args, home)
    except GatewayRefused as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("\nmlbot: interrupted", file=sys.stderr)
        return 130


def _fail(message: str) -> int:
    print(f"mlbot: {message}", file=sys.stderr)
    return 2


def _open_app(home: ModelHome, **kwargs):
    from bot.app import App
    from storage import DatabaseError

    app = App(home, **kwargs)

    async def start():
        try:
            return await app.start()
        except DatabaseError as exc:
            raise SystemExit(_fail(str(exc)))

    return app, start


def _run_one(home: ModelHome, command: str, user: str = "local", **arguments):
    """Start the app, run one command as a CLI user, close it; returns the command's Reply."""
    from bot.commands import CommandContext, run_command

    async def run():
        app, start = _open_app(home)
        await start()
        try:
            return await run_command(command, CommandContext(app, "cli", user, user_name=user), **arguments)
        finally:
            await app.close()

    return asyncio.run(run())


def _console(args, home: ModelHome) -> int:
    from bot.adapters.console import Console

    async def session() -> None:
        app, start = _open_app(home, background_training=True)
        await start()
        try:
            await Console(app).run()
        finally:
            await app.close()

    asyncio.run(session())
    return 0


def read_token() -> str | None:
    token = os.environ.get("DISCORD_TOKEN", "").strip()
    token_file = os.environ.get("DISCORD_TOKEN_FILE", "").strip()
    if not token and token_file:
        try:
            token = Path(token_file).read_text().strip()
        except OSError as exc:
            raise SystemExit(_fail(f"cannot read DISCORD_TOKEN_FILE {token_file}: {exc.strerror}"))
    return token or None


def _run(args, home: ModelHome) -> int:
    token = read_token()
    if token is None:
        if getattr(args, "shard_count", None) or getattr(args, "shard_ids", None):
            return _fail("--shard-count and --shard-ids are for Discord: set DISCORD_TOKEN (or DISCORD_TOKEN_FILE)")
        print("DISCORD_TOKEN is not set: starting the terminal console.", file=sys.stderr)
        return _console(args, home)
    register_secret(token)
    from bot.adapters.cli_gateway import SqliteGatewayLock, plan_for_run, resolve_shard_count, shared_database_configured
    from bot.adapters.discord_bot import run_discord

    if args.shard_count and args.shard_count.isdigit():
        plan_for_run(int(args.shard_count), args.shard_ids, 1)  # refuse a bad request before any network
    count, max_concurrency = asyncio.run(resolve_shard_count(args.shard_count, token))
    shards = plan_for_run(count, args.shard_ids, max_concurrency)
    app, start = _open_app(home, background_training=True, progress_bars=True)
    if shared_database_configured():
        return asyncio.run(run_discord(app, start, token, shards))
    with SqliteGatewayLock(home):
        return asyncio.run(run_discord(app, start, token, shards))


def _serve(args, home: ModelHome) -> int:
    address = os.environ.get("MLBOT_RAY_ADDRESS", "").strip()
    if not address:
        return _fail("set MLBOT_RAY_ADDRESS to the Ray cluster (e.g. 127.0.0.1:6379, as `ray start --head` prints)")
    from bot.inference.ray_auth import use_ray_token_if_present

    use_ray_token_if_present()
    import ray

    from bot.inference.deploy import deploy, load_config
    from bot.inference.serve_app import APP_NAME

    try:
        config = load_config(args.config)
    except ValueError as exc:
        return _fail(str(exc))
    try:
        ray.init(address=address, namespace=APP_NAME, log_to_driver=False)
    except Exception as exc:
        return _fail(f"cannot reach the Ray cluster at {address}: {str(exc).splitlines()[0] if str(exc) else exc}")
    versions = deploy(home, config, args.model_home)
    replicas = _replica_states(APP_NAME)
    if args.json:
        print(json.dumps({"application": APP_NAME, "versions": versions, "replicas": replicas}))
    else:
        for service, version in versions.items():
            states = ", ".join(f"{n} {state.lower()}" for state, n in replicas.get(service, {}).items())
            print(f"{service}: {version} deployed ({states or 'no replicas yet'})")
        missing = sorted(set(config) - set(versions))
        if missing:
            print(f"not deployed (no model built): {', '.join(missing)}")
    return 0 if versions else 1


def _replica_states(app_name: str) -> dict[str, dict[str, int]]:
    """{deployment: {state: replicas}} as Serve reports them (RUNNING, STARTING, ...)."""
    from ray import serve

    application = serve.status().applications.get(app_name)
    if application is None:
        return {}
    return {name: {str(state): int(count) for state, count in d.replica_states.items()}
            for name, d in application.deployments.items()}


def _cluster(args, home: ModelHome) -> int:
    from bot.adapters.cli_gateway import run_cluster

    token = read_token()
    if token is not None:
        register_secret(token)
    return run_cluster(args, home, token)


def _train(args, home: ModelHome) -> int:
    if getattr(args, "on_ray", False):
        return _train_on_ray(args, home)
    # Ctrl-C (and the bot's stop, a SIGINT) saves and exits even when this process was
    # started with SIGINT ignored, as a background job of a non-interactive shell is.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    from ml.build_lock import BuildLock, ProgressReporter
    from ml.errors import UserFacingError
    from ml.progress import Progress
    from ml.runtime import cap_torch_threads
    from ml.services import SERVICES, find_service

    try:
        specs = list(SERVICES.values()) if args.service == "all" else [find_service(args.service)]
    except KeyError as exc:
        return _fail(exc.args[0])
    options = {}
    if getattr(args, "corpus", None):
        if [s.name for s in specs] != ["essay"] or not args.name:
            return _fail("--corpus DIR goes with `train essay` and needs --name NAME for the style")
        options = {"corpus": args.corpus, "name": args.name}
    cap_torch_threads()
    for spec in specs:
        lock = BuildLock(home, spec.name)
        if not lock.try_acquire():
            holder = lock.holder()
            print(f"mlbot: {holder.describe(spec.name) if holder else 'another process is building ' + spec.name};"
                  " waiting for it (Ctrl-C stops waiting)", file=sys.stderr, flush=True)
            before = home.current(spec.name)
            lock.acquire()
            published = home.current(spec.name)
            if published is not None and (before is None or published.version != before.version):
                lock.release()  # the other process built what was asked for
                print(f"{spec.name}: published {published.version} by the other process -> {published.path}")
                continue
        progress = Progress(spec.name, spec.progress_weights, bars=not getattr(args, "no_bars", False))
        try:
            with ProgressReporter(lock, progress):
                ref = spec.train(home, args.quick, progress, seed=args.seed, **options)
        except KeyboardInterrupt:
            progress.close()
            print(f"\nmlbot: training {spec.name} interrupted; run the same command to resume", file=sys.stderr)
            return 130
        except UserFacingError as exc:
            progress.close()
            return _fail(str(exc))
        finally:
            lock.release()
        progress.close()
        card = ref.card
        print(f"{spec.name}: published {ref.version} in {card['training']['seconds']} s -> {ref.path}")
        print(f"  metrics: {json.dumps(card.get('metrics', {}))}")
    return 0


def _train_on_ray(args, home: ModelHome) -> int:
    address = os.environ.get("MLBOT_RAY_ADDRESS", "").strip()
    if not address:
        return _fail("--on-ray needs MLBOT_RAY_ADDRESS (the Ray cluster, e.g. 127.0.0.1:6379)")
    if getattr(args, "corpus", None):
        return _fail("--corpus is read from this machine: train a style here, without --on-ray")
    from bot.inference.ray_auth import use_ray_token_if_present

    use_ray_token_if_present()
    from bot.inference.train_on_ray import train_on_ray

    try:
        done = train_on_ray(address, args.service, args.quick, args.seed, args.model_home or str(home.root),
                            args.num_cpus)
    except KeyboardInterrupt:
        print("\nmlbot: the training task was cancelled; run the same command to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # the cluster, not the training: one line, the detail in the log
        log.error("training %s on Ray failed", args.service, exc_info=exc)
        return _fail(f"the training on Ray at {address} failed: {str(exc).splitlines()[0] if str(exc) else exc}")
    if done["exit_code"] == 0 and done["version"]:
        print(f"{args.service}: published {done['version']} on {done['host']} (Ray task); "
              "run `mlbot serve` to roll it out")
    return done["exit_code"]


def _eval(args, home: ModelHome) -> int:
    from ml.errors import UserFacingError
    from ml.runtime import cap_torch_threads
    from ml.services import find_service

    try:
        spec = find_service(args.service)
    except KeyError as exc:
        return _fail(exc.args[0])
    cap_torch_threads()
    try:
        result = spec.evaluate(home, photos=args.photos, style=args.style, other_writers=args.other_writers)
    except UserFacingError as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


def _digit(args, home: ModelHome) -> int:
    from bot.commands import CommandContext, run_command
    from bot.inputs import input_file_from_path
    from ml.errors import InputError

    if home.current("digits") is None:
        print("The digit model is not built yet; building it now (about 4 min, Ctrl-C stops, "
              "the next run resumes).", file=sys.stderr)
        code = _train(argparse.Namespace(service="digits", quick=False, seed=0), home)
        if code:
            return code

    async def read_all() -> int:
        app, start = _open_app(home)
        await start()
        failures = 0
        try:
            ctx = CommandContext(app, "cli", "local")
            for path in args.images:
                try:
                    reply = await run_command("digit", ctx, image=input_file_from_path(path))
                except InputError as exc:
                    from bot.reply import Reply
                    reply = Reply.error(str(exc))
                failures += reply.is_error
                _print_digit_reply(path, reply, args.json)
        finally:
            await app.close()
        return 1 if failures else 0

    return asyncio.run(read_all())


def _tone(args, home: ModelHome) -> int:
    from bot.commands import CommandContext, run_command

    if (args.text is None) == (args.file is None):
        return _fail("give a message, or --file FILE (one message per line)")
    if args.file:
        try:
            with open(args.file, encoding="utf-8", errors="replace") as handle:
                messages = [line.rstrip("\n") for line in handle if line.strip()]
        except OSError as exc:
            return _fail(f"cannot read {args.file}: {exc.strerror}")
    else:
        messages = [args.text]
    if home.current("tone") is None:
        return _fail("the tone model is not built yet: run `mlbot train tone` (about 6 min)")

    async def check_all() -> int:
        app, start = _open_app(home)
        await start()
        failures = 0
        try:
            ctx = CommandContext(app, "cli", "local")
            for message in messages:
                reply = await run_command("tone", ctx, text=message)
                failures += reply.is_error
                if args.json:
                    if reply.is_error:
                        line = {"text": message, "error": reply.text}
                    else:
                        d = reply.data
                        line = {"text": d["text"], "label": d["label"], "passive_aggression": d["passive_aggression"],
                                "hostility": d["hostility"], "sentiment": d["sentiment"],
                                "cues": [c["text"] for c in d["cues"]], "rewrite": d["rewrite"],
                                "low_confidence": d["low_confidence"], "cached": d["cached"]}
                    print(json.dumps(line, ensure_ascii=False), flush=True)
                else:
                    print(reply.as_text() if not reply.is_error else f"error: {reply.text}", flush=True)
        finally:
            await app.close()
        return 1 if failures else 0

    return asyncio.run(check_all())


def _print_digit_reply(path: str, reply, as_json: bool) -> None:
    if as_json:
        if reply.is_error:
            line = {"file": path, "error": reply.text}
        else:
            data = reply.data
            line = {"file": path, "digits": data["digits"], "confidence": data["confidence"],
                    "top3": data["top3"], "best_guess": data["best_guess"], "no_digits": bool(data.get("no_digits")),
                    "model_version": data["model_version"]}
        print(json.dumps(line), flush=True)
    elif reply.is_error:
        print(f"{path}: error: {reply.text}", flush=True)
    else:
        print(f"{path}: {reply.text}  [top 3: {reply.fields[0][1]}]", flush=True)


def _essay(args, home: ModelHome) -> int:
    reply = _run_one(home, "essay", topic=args.topic, words=args.words, style=args.style, seed=args.seed,
                     temperature=args.temperature, top_p=args.top_p, opening=args.opening)
    if reply.is_error:
        return _fail(reply.text)
    d = reply.data
    if args.json:
        print(json.dumps({"title": d["title"], "essay": d["essay"], "words": d["words"],
                          "longest_copied_run": d["longest_copied_run"], "model_version": d["model_version"],
                          "seed": d["seed"], "style": d["style"], "seconds": d["seconds"],
                          "tokens": d["tokens"], "plan": d["plan"], "on_topic": d["on_topic"],
                          "stage_seconds": d["stage_seconds"], "notes": d["notes"]}, ensure_ascii=False))
    else:
        print(d["markdown"])
        print(f"({d['words']} words; longest run copied from the corpus: {d['longest_copied_run']} words; "
              f"model {d['model_version']})")
    return 0



def _track(args, home: ModelHome) -> int:
    reply = _run_one(home, "track", seed=args.seed, seconds=args.seconds, instrument=args.instrument,
                     tempo=args.tempo)
    if reply.is_error:
        return _fail(reply.text)
    audio_file, midi_file = reply.files
    out = Path(args.out)
    audio_path = out.with_suffix("." + audio_file.filename.rsplit(".", 1)[-1])
    midi_path = out.with_suffix(".mid")
    try:
        audio_path.parent.mkdir(parents=True, exist_ok=True)
        audio_path.write_bytes(audio_file.data)
        midi_path.write_bytes(midi_file.data)
    except OSError as exc:
        return _fail(f"cannot write {out}: {exc.strerror}")
    d = reply.data
    result = {"audio": str(audio_path), "midi": str(midi_path), "seconds": d["seconds"], "seed": d["seed"],
              "metrics": d["metrics"], "title": d["title"], "model_version": d["model_version"]}
    print(json.dumps(result) if args.json else f"{d['title']}: {audio_path} and {midi_path}")
    return 0


def _friend(args, home: ModelHome) -> int:
    from bot.users import local_user_name

    user = (args.user or "").strip() or local_user_name()

    options = {"persona": args.persona} if args.persona else {}
    reply = _run_one(home, "friend", user=user, message=args.message, **options)
    if reply.is_error:
        return _fail(reply.text)
    d = reply.data
    if args.json:
        print(json.dumps({"reply": d["reply"], "tokens": d["tokens"], "seconds": d["seconds"],
                          "first_token_seconds": d["first_token_seconds"], "note": d["note"],
                          "cached": d["cached"], "model_version": d["model_version"]}, ensure_ascii=False))
    else:
        print(reply.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())


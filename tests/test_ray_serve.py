"""The Ray Serve backend against a real local Ray (started once for this module: about 10 s
here), with the tiny digit, tone, essay and track models: answers through Serve, batching,
the essay's stages streamed back, a replica killed mid-request, overload, a service left out
of the application answering in the bot, and /healthz once the application is gone."""
from __future__ import annotations

import asyncio

import pytest

from bot.commands import CommandContext, run_command
from tests.conftest import bytes_input, install_models, mnist_png


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]

SMALL = {"num_replicas": 1, "num_cpus": 0.25, "max_ongoing_requests": 16, "max_queued_requests": 64,
         "max_batch_size": 8, "batch_wait_timeout_s": 0.1}
# The digit deployment takes one request at a time and queues one: easy to overload.
TIGHT = {**SMALL, "max_ongoing_requests": 1, "max_queued_requests": 1, "max_batch_size": 1,
         "batch_wait_timeout_s": 0.0}
RAY_METRICS_PORT = free_port()
LONG = {"num_replicas": 1, "num_cpus": 0.25, "max_ongoing_requests": 2, "max_queued_requests": 8}
APPLICATION = {"digits": TIGHT, "tone": SMALL, "essay": LONG, "tracks": LONG, "friend": LONG}


@pytest.fixture(scope="module")
def ray_cluster():
    from bot.inference.ray_auth import use_ray_token_if_present

    use_ray_token_if_present()
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=80 * 2**20,
             namespace="mlbot", log_to_driver=False, configure_logging=False,
             _metrics_export_port=RAY_METRICS_PORT)  # `ray start --metrics-export-port` in deploy/
    yield ray.get_runtime_context().gcs_address
    from ray import serve

    serve.shutdown()
    ray.shutdown()


@pytest.fixture(scope="module")
def ray_home(ray_cluster, tmp_path_factory, tiny_model_root, tiny_tone_root, tiny_tracks_root, tiny_friend_root,
             tiny_essay_root):
    """Models deployed once for the module (a deployment takes ~10 s: replicas load torch)."""
    import shutil

    from bot.inference.deploy import deploy
    from ml.home import ModelHome

    home = ModelHome(tmp_path_factory.mktemp("ray-home"))
    for root in (tiny_model_root, tiny_tone_root, tiny_tracks_root, tiny_friend_root):
        install_models(home, root)
    # The default style is the one Serve runs: the session's tiny "small" essay model stands in for it.
    small = ModelHome(tiny_essay_root).current("essay-small")
    shutil.copytree(small.path, home.service_dir("essay") / small.version)
    (home.service_dir("essay") / "CURRENT").write_text(small.version + "\n")
    deploy(home, APPLICATION)
    return home


@pytest.fixture
async def ray_app(ray_cluster, ray_home, monkeypatch):
    from bot.app import App

    monkeypatch.setenv("MLBOT_HOME", str(ray_home.root))
    monkeypatch.setenv("MLBOT_RAY_ADDRESS", ray_cluster)
    app = App(ray_home)
    await app.start()
    yield app
    await app.close()


def stats(service: str) -> dict:
    from ray import serve

    return serve.get_deployment_handle(service, app_name="mlbot").options(method_name="stats").remote().result()


async def test_both_services_answer_through_serve_with_batches(ray_app, mnist):
    assert ray_app.inference.name == "ray"
    ctx = CommandContext(ray_app, "cli", "u")
    digit = await run_command("digit", ctx, image=bytes_input(mnist_png(mnist, 0)))
    assert not digit.is_error and (await asyncio.to_thread(stats, "digits"))["calls"] == 1
    texts = [f"Thanks for finally replying, message {i}." for i in range(16)]
    replies = await asyncio.gather(*(run_command("tone", ctx, text=t) for t in texts))
    assert all(not r.is_error for r in replies), [r.text for r in replies if r.is_error]
    seen = await asyncio.to_thread(stats, "tone")
    assert seen["calls"] >= 16 and seen["max_batch"] > 1 and seen["batched_calls"] >= 1, seen
    again = await run_command("tone", ctx, text=texts[0])
    assert again.data["cached"] and again.data["model_version"] == seen["version"]  # same keys as local
    bad = await run_command("digit", ctx, image=bytes_input(b"not an image"))
    assert bad.is_error and "not an image" in bad.text  # the replica's input error, as one line
    assert "ray at" in await ray_app.inference_health()


async def test_replicas_export_rays_serve_metrics(ray_app):
    import time
    import urllib.request

    ctx = CommandContext(ray_app, "cli", "u")
    assert not (await run_command("tone", ctx, text="Noted, as I said before.")).is_error

    def scrape() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{RAY_METRICS_PORT}/metrics", timeout=5) as response:
            return response.read().decode()
    wanted = 'ray_serve_deployment_request_counter'
    deadline = time.monotonic() + 40  # Ray's agent exports every few seconds
    while True:
        body = await asyncio.to_thread(scrape)
        lines = [line for line in body.splitlines() if line.startswith(wanted) and 'deployment="tone"' in line]
        if lines or time.monotonic() > deadline:
            break
        await asyncio.sleep(2)
    assert lines, sorted({line.split("{")[0] for line in body.splitlines() if line.startswith("ray_serve_")})


async def test_essays_stream_their_stages_and_tracks_come_through_serve(ray_app):
    from bot.inference.operations import compose_track, load_track_composer

    stages: list[str] = []

    async def progress(message: str) -> None:
        stages.append(message)
    ctx = CommandContext(ray_app, "cli", "u", progress=progress)
    essay = await run_command("essay", ctx, topic="the navy", words=120, seed=4)
    assert not essay.is_error, essay.text
    assert (await asyncio.to_thread(stats, "essay"))["calls"] == 1
    # The replica's stages reach the command before the essay does.
    assert any(m.startswith("Essay: ") for m in stages) and len(stages) >= 3, stages
    again = await run_command("essay", CommandContext(ray_app, "cli", "u"), topic="the navy", words=120, seed=4)
    assert again.data["cached"] and again.data["markdown"] == essay.data["markdown"]
    # Without anyone watching its stages (the CLI): still a streamed call, the stages dropped.
    quiet = await run_command("essay", CommandContext(ray_app, "cli", "u"), topic="the navy", words=120, seed=5)
    assert not quiet.is_error and not quiet.data["cached"], quiet.text

    track = await run_command("track", ctx, seed=7, seconds=10)
    assert not track.is_error, track.text
    assert (await asyncio.to_thread(stats, "tracks"))["calls"] == 1
    # The same model in this process composes the same music for the seed.
    composer = await asyncio.to_thread(load_track_composer, ray_app.home.current("tracks"))
    local, _, midi = await asyncio.to_thread(compose_track, composer, 7, 10, "piano", track.data["tempo"])
    assert local["title"] == track.data["title"]
    assert [f.data for f in track.files if f.filename.endswith(".mid")] == [midi]
    bad = await run_command("track", ctx, seed=7, seconds=5)
    assert bad.is_error and "seconds" in bad.text  # checked before any call, as locally


async def test_the_friend_answers_from_its_replica_which_keeps_the_conversation(ray_app):
    friend = ray_app.friend
    conversation = friend.conversation_id("cli", "sam")
    shown: list[str] = []

    async def stream(text: str) -> None:
        shown.append(text)
    first = await friend.chat(user_key="k-sam", conversation=conversation, speaker="Sam",
                              message="Hi! I'm Sam and my dog is called Rex.", stream=stream)
    assert first["reply"] and not first["cached"]
    assert first["model_version"] == ray_app.home.current("friend").version
    assert friend.slot.loaded is None  # no friend model in the bot: its replica answered
    assert (await asyncio.to_thread(stats, "friend"))["calls"] == 1
    assert all(first["reply"].startswith(text.strip()[:30]) for text in shown), (shown, first["reply"])
    # What the replica shows as the reply grows reaches the bot (the tiny model's words seldom end
    # a sentence, so a crisis message, whose written reply is shown at once, makes it certain).
    crisis: list[str] = []

    async def watch(text: str) -> None:
        crisis.append(text)
    helped = await friend.chat(user_key="k-sam", conversation=friend.conversation_id("cli", "sam-2"), speaker="Sam",
                               message="i want to die", stream=watch)
    assert helped["kind"] == "crisis" and crisis == [helped["reply"]]
    memory = await friend.memory.load("k-sam", conversation, 8)
    assert "The user's dog is called Rex" in [f.text for f in memory.facts] and len(memory.turns) == 2
    # The next turn goes to the replica holding the conversation: its key/values are reused.
    second = await friend.chat(user_key="k-sam", conversation=conversation, speaker="Sam", message="How are you?")
    assert second["reused_tokens"] > 0, second
    # /forget drops the memory and the replica's key/values of the conversation.
    assert await friend.forget("k-sam") > 0
    third = await friend.chat(user_key="k-sam", conversation=conversation, speaker="Sam", message="How are you?")
    assert third["reused_tokens"] == 0 and not third["cached"]
    assert "friend" in await ray_app.inference_health()


async def test_serving_again_rolls_out_a_new_version_without_dropping_requests(ray_app, mnist):
    from bot.inference.deploy import deploy

    home = ray_app.home
    old = home.current("digits")
    files = {p.name: p.read_bytes() for p in old.path.iterdir() if p.is_file() and p.name != "card.json"}
    card = {k: v for k, v in old.card.items() if k not in ("service", "version")}
    new = home.publish("digits", old.version + "-next", files, card)
    ctx = CommandContext(ray_app, "cli", "u")
    rolled = asyncio.Event()
    answers = []

    async def keep_asking() -> None:  # one at a time: the digit deployment queues only one
        asked = 0
        while not rolled.is_set() or asked < 3:
            answers.append(await run_command("digit", ctx, image=bytes_input(mnist_png(mnist, 100 + asked))))
            asked += 1
    asker = asyncio.create_task(keep_asking())
    await asyncio.to_thread(deploy, home, APPLICATION)  # `mlbot serve` again: returns once rolled out
    rolled.set()
    await asker
    assert len(answers) >= 3 and [a.text for a in answers if a.is_error] == []
    assert (await asyncio.to_thread(stats, "digits"))["version"] == new.version


async def test_a_replica_killed_mid_request_is_retried_or_one_line(ray_app):
    import ray

    ctx = CommandContext(ray_app, "cli", "u")
    names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if "#tone#" in a["name"]]
    assert names, "no tone replica found"
    pending = [asyncio.create_task(run_command("tone", ctx, text=f"Sure, whatever works for you {i}."))
               for i in range(8)]
    await asyncio.sleep(0.05)
    ray.kill(ray.get_actor(names[0], namespace="serve"), no_restart=True)
    replies = await asyncio.gather(*pending)
    for reply in replies:  # answered by a retry, or told plainly
        assert not reply.is_error or "stopped in the middle of your request" in reply.text or \
            "try again" in reply.text, reply.text
    for _ in range(60):  # Serve starts a new replica; the bot was up all along
        later = await run_command("tone", ctx, text="Thanks, that helps a lot.")
        if not later.is_error:
            break
        await asyncio.sleep(1)
    assert not later.is_error, later.text


async def test_overload_is_busy_and_a_missing_application_is_unhealthy(ray_app, mnist):
    from ray import serve

    from bot.adapters.health import HealthServer

    ctx = CommandContext(ray_app, "cli", "u")
    await run_command("digit", ctx, image=bytes_input(mnist_png(mnist, 1)))  # the version is known
    replies = await asyncio.gather(*(run_command("digit", ctx, image=bytes_input(mnist_png(mnist, i)))
                                     for i in range(2, 14)))
    busy = [r for r in replies if r.is_error]
    assert busy and all("busy" in r.text and "try again in" in r.text for r in busy), [r.text for r in busy]
    assert any(not r.is_error for r in replies)
    await asyncio.to_thread(serve.delete, "mlbot")  # the backend is gone
    report = await HealthServer(ray_app, lambda: None, 0).report()
    assert not report["inference"]["ok"] and report["database"]["ok"]


async def test_a_service_left_out_of_the_application_answers_in_the_bot(ray_cluster, ray_home, monkeypatch):
    from ray import serve

    from bot.app import App
    from bot.inference.deploy import deploy

    await asyncio.to_thread(deploy, ray_home, {"digits": SMALL})  # tone left out
    monkeypatch.setenv("MLBOT_HOME", str(ray_home.root))
    monkeypatch.setenv("MLBOT_RAY_ADDRESS", ray_cluster)
    app = App(ray_home)
    await app.start()
    try:
        reply = await run_command("tone", CommandContext(app, "cli", "u"), text="Per my last email, as I said.")
        assert not reply.is_error, reply.text
        assert app.local_inference.slots["tone"].loaded is not None  # answered by the bot's own copy
        assert app.inference.name == "ray"
    finally:
        await app.close()
        await asyncio.to_thread(serve.delete, "mlbot")


def test_a_training_runs_as_a_ray_task_into_the_shared_home(ray_cluster, tmp_path):
    import os

    from bot.inference.train_on_ray import train_on_ray
    from ml.home import ModelHome

    shared = tmp_path / "shared-home"
    done = train_on_ray(ray_cluster, "digits", True, 0, str(shared), num_cpus=0.25)
    published = ModelHome(shared).current("digits")
    assert done["exit_code"] == 0 and published is not None and done["version"] == published.version
    assert done["pid"] != os.getpid()  # trained in a Ray worker, not in this process


def test_training_on_ray_needs_an_address(home, monkeypatch, capsys):
    from bot.adapters.cli import main

    monkeypatch.delenv("MLBOT_RAY_ADDRESS", raising=False)
    assert main(["train", "digits", "--quick", "--on-ray"]) == 2
    assert "MLBOT_RAY_ADDRESS" in capsys.readouterr().err

"""What can be checked of deploy/ without a Docker engine: the files parse, and every mlbot
command and MLBOT_* variable they name exists in mlbot."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from bot.adapters.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
SOURCES = Path(__file__).resolve().parents[1]


def known_variables() -> set[str]:
    text = "\n".join(p.read_text() for folder in ("bot", "ml", "storage") for p in (SOURCES / folder).rglob("*.py"))
    return set(re.findall(r"MLBOT_[A-Z_]+", text))


def mlbot_commands() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return set(sub.choices)


def test_compose_parses_and_names_real_commands_and_variables():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "ray-head", "ray-worker", "serve", "gateway"} <= set(services)
    assert services["gateway"]["healthcheck"]["test"][-1].endswith("/healthz")
    for name, service in services.items():
        command = service.get("command") or []
        if command[:1] == ["mlbot"]:
            assert command[1] in mlbot_commands(), (name, command)
        for variable in (service.get("environment") or {}):
            if variable.startswith("MLBOT_"):
                assert variable in known_variables(), (name, variable)
    assert services["gateway"]["environment"]["MLBOT_DATABASE_URL"].startswith("postgresql://")


def test_units_and_dockerfile_name_what_exists():
    for unit in DEPLOY.glob("*.service"):
        text = unit.read_text()
        for command in re.findall(r"/\.venv/bin/mlbot (\w+)", text):
            assert command in mlbot_commands(), (unit.name, command)
        for variable in re.findall(r"MLBOT_[A-Z_]+", text):
            assert variable in known_variables() or variable in ("MLBOT_SHARD_COUNT", "MLBOT_SHARD_IDS"), \
                (unit.name, variable)
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "torch==2.13.0" in dockerfile and 'CMD ["mlbot", "run"]' in dockerfile
    assert "/healthz" in dockerfile


def test_the_serve_config_deploys_known_services():
    from bot.inference.deploy import load_config
    from bot.inference.operations import OPERATIONS

    config = load_config(DEPLOY / "serve.yaml")
    assert set(config) == set(OPERATIONS) and config["tone"]["autoscaling"]["max_replicas"] >= 1
    # Every service, at its most replicas, and the application's entry fit on a 2-core machine.
    most = sum(float(options["num_cpus"]) * (options.get("autoscaling", {}).get("max_replicas")
                                             or options.get("num_replicas", 1)) for options in config.values())
    assert most + 0.05 <= 2.0, most



def test_ray_is_imported_only_when_used(tmp_path):
    """The embedded default (and reading the Serve config) never imports Ray."""
    script = ("import asyncio, sys\n"
              "from bot.app import App\n"
              "from bot.inference.deploy import load_config\n"
              "load_config()\n"
              "async def main():\n"
              "    async with App():\n"
              "        pass\n"
              "asyncio.run(main())\n"
              "assert 'ray' not in sys.modules, 'ray was imported'\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=SOURCES,
                            env={**os.environ, "MLBOT_HOME": str(tmp_path), "MLBOT_RAY_ADDRESS": ""})
    assert result.returncode == 0, result.stderr[-2000:]


def test_mlbot_serve_without_a_cluster_says_what_to_set(tmp_path):
    result = subprocess.run([str(SOURCES / ".venv" / "bin" / "mlbot"), "serve"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "MLBOT_HOME": str(tmp_path)})
    assert result.returncode == 2 and "set MLBOT_RAY_ADDRESS" in result.stderr

"""`mlbot serve`: build the "mlbot" Serve application from deploy/serve.yaml and the current
model versions under MLBOT_HOME, and deploy (or update) it on the cluster at MLBOT_RAY_ADDRESS."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from bot.inference.operations import OPERATIONS
from ml.home import ModelHome

log = logging.getLogger(__name__)
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "serve.yaml"
DEPLOYMENT_KEYS = ("max_ongoing_requests", "max_queued_requests")


def load_config(path: Path | str | None = None) -> dict[str, dict[str, Any]]:
    path = Path(path) if path else DEFAULT_CONFIG
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read the Serve config {path}: {exc}") from exc
    services = data.get("services") or {}
    unknown = sorted(set(services) - set(OPERATIONS))  # checked without importing ray
    if unknown:
        raise ValueError(f"{path}: no Serve deployment for {', '.join(unknown)} (there are: {', '.join(OPERATIONS)})")
    return services


def build_application(home: ModelHome, config: dict[str, dict[str, Any]], model_home: str | None = None):
    """(the Serve application, {service: version}); services whose model is not built are left out."""
    from bot.inference.serve_app import DEPLOYMENTS, Models

    versions, bound = {}, {}
    for service, options in config.items():
        ref = home.current(service)
        if ref is None:
            log.warning("%s: no model built; not deployed (run `mlbot train %s`)", service, service)
            continue
        deployment_options: dict[str, Any] = {key: options[key] for key in DEPLOYMENT_KEYS if key in options}
        deployment_options["ray_actor_options"] = {"num_cpus": float(options.get("num_cpus", 0.5))}
        if "autoscaling" in options:
            deployment_options["autoscaling_config"] = dict(options["autoscaling"])
        else:
            deployment_options["num_replicas"] = int(options.get("num_replicas", 1))
        bound[service] = DEPLOYMENTS[service].options(**deployment_options).bind(
            ref.version, model_home or str(home.root), int(options.get("max_batch_size", 16)),
            float(options.get("batch_wait_timeout_s", 0.01)))
        versions[service] = ref.version
    return Models.bind(versions, **bound), versions


def deploy(home: ModelHome, config: dict[str, dict[str, Any]], model_home: str | None = None) -> dict[str, str]:
    """Deploy or update the application; returns the versions now being rolled out."""
    from ray import serve

    from bot.inference.serve_app import APP_NAME

    application, versions = build_application(home, config, model_home)
    serve.run(application, name=APP_NAME, route_prefix=None)
    return versions

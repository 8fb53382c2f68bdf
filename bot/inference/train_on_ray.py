"""`mlbot train SERVICE --on-ray`: the same training as `mlbot train`, run as a Ray task on
the cluster at MLBOT_RAY_ADDRESS, so a busy gateway machine never trains.

The task writes the model where every node finds it: the shared MLBOT_HOME the Serve
replicas read (`--model-home` when the path differs from this machine's). Its log lines come
back to this terminal (Ray forwards a task's output to its driver); Ctrl-C cancels the task,
whose last checkpoint stays for the next run. `mlbot serve` then rolls the new model out.
"""
from __future__ import annotations

import argparse
import os
import socket


def train_in_task(service: str, quick: bool, seed: int, model_home: str) -> dict:
    """Runs on a Ray worker: the CLI's own training, without progress bars."""
    from bot.adapters.cli import _train
    from ml.home import ModelHome

    home = ModelHome(model_home)
    code = _train(argparse.Namespace(service=service, quick=quick, seed=seed, no_bars=True), home)
    published = home.current(service) if service != "all" else None
    return {"exit_code": code, "version": published.version if published else None,
            "host": socket.gethostname(), "pid": os.getpid()}


def train_on_ray(address: str, service: str, quick: bool, seed: int, model_home: str,
                 num_cpus: float = 1.0) -> dict:
    """Start the task, wait for it, and return what train_in_task returned."""
    import ray

    from bot.inference.serve_app import APP_NAME

    if not ray.is_initialized():
        ray.init(address=address, namespace=APP_NAME, log_to_driver=True)
    task = ray.remote(num_cpus=num_cpus, max_retries=0)(train_in_task).remote(service, quick, seed, model_home)
    try:
        return ray.get(task)
    except KeyboardInterrupt:
        ray.cancel(task)
        raise

"""Where model calls run, behind one interface (InferenceBackend in base.py):

* local (default): the bounded thread runtime inside the bot process (ml/runtime.py);
* ray (MLBOT_RAY_ADDRESS set): the Ray Serve application "mlbot", one deployment per model,
  deployed by `mlbot serve` (serve_app.py), called through DeploymentHandles from asyncio.

The digit reader, the tone checker, the essay writer (its default style) and the track
composer go through it; what a call computes is defined once, in operations.py, and runs the
same in a local thread and in a Serve replica. The friend stays in the bot process: it
streams tokens and keeps each conversation's key/value cache where the conversation is.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from bot.inference.base import InferenceBackend

if TYPE_CHECKING:
    from bot.app import App


def make_backend(app: "App") -> InferenceBackend:
    address = os.environ.get("MLBOT_RAY_ADDRESS", "").strip()
    if address:
        from bot.inference.ray_auth import use_ray_token_if_present

        use_ray_token_if_present()
        from bot.inference.ray_backend import RayBackend  # imports ray: only when asked for

        return RayBackend(address, app.local_inference)
    return app.local_inference

"""Ray 2.59+ clusters started with `ray start` use token authentication (the token in
~/.ray/auth_token), and a driver sends it only with RAY_AUTH_MODE=token, which Ray reads when
it is imported: so this runs before `import ray`."""
from __future__ import annotations

import os


def use_ray_token_if_present() -> None:
    if "RAY_AUTH_MODE" in os.environ:
        return
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") \
            or os.path.exists(os.path.expanduser("~/.ray/auth_token")):
        os.environ["RAY_AUTH_MODE"] = "token"

"""User ids are never stored as they are: a keyed hash links a user's data to them."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path


def load_or_create_secret(path: Path) -> bytes:
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        return bytes.fromhex(value)


def user_key(secret: bytes, adapter: str, user_id: str) -> str:
    return hmac.new(secret, f"{adapter}:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


def local_user_name() -> str:
    """Who uses the console or the CLI, for the friend to call them by. getpass fails where
    the user id has no passwd entry and no USER/LOGNAME (some containers): then "you"."""
    import getpass

    try:
        return getpass.getuser().strip() or "you"
    except Exception:
        return "you"

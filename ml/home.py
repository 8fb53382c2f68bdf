"""Where models live: MLBOT_HOME/models/<service>/<version>/ with a model card.

A service's current version is named in MLBOT_HOME/models/<service>/CURRENT, replaced
atomically once a new version is fully written, so a reader never sees half a model.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from dataclasses import dataclass
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any


def default_home() -> Path:
    env = os.environ.get("MLBOT_HOME")
    if env:
        return Path(env).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "mlbot"


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; models and cards are not secret
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def library_versions(*names: str) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def pack_weights(module) -> bytes:
    """A torch module's weights as safetensors bytes (what a published model folder holds)."""
    from safetensors.torch import save

    return save({name: tensor.contiguous() for name, tensor in module.state_dict().items()})


def content_version(service: str, *contents: bytes) -> str:
    """A version name from what a model is made of: "<service>-<12 hex digits>", so the same
    weights always get the same name and any change gets a new one (and new cache keys)."""
    digest = hashlib.sha256()
    for part in contents:
        digest.update(part)
    return f"{service}-{digest.hexdigest()[:12]}"


@dataclass
class ModelRef:
    service: str
    version: str
    path: Path

    @cached_property
    def card(self) -> dict[str, Any]:
        return json.loads((self.path / "card.json").read_text())


class ModelHome:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else default_home()

    @property
    def db_path(self) -> Path:
        return self.root / "mlbot.sqlite3"

    def service_dir(self, service: str) -> Path:
        return self.root / "models" / service

    def work_dir(self, service: str) -> Path:
        """Scratch space for a training run (checkpoints to resume from)."""
        path = self.service_dir(service) / "_work"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def current(self, service: str) -> ModelRef | None:
        pointer = self.service_dir(service) / "CURRENT"
        try:
            version = pointer.read_text().strip()
        except FileNotFoundError:
            return None
        path = self.service_dir(service) / version
        if not (path / "card.json").exists():
            return None
        return ModelRef(service, version, path)

    def publish(self, service: str, version: str, files: dict[str, bytes], card: dict[str, Any]) -> ModelRef:
        """Write a version's files and card, then point CURRENT at it."""
        path = self.service_dir(service) / version
        path.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            write_atomically(path / name, data)
        card = {"service": service, "version": version, **card}
        write_atomically(path / "card.json", json.dumps(card, indent=2, sort_keys=True).encode())
        write_atomically(self.service_dir(service) / "CURRENT", (version + "\n").encode())
        return ModelRef(service, version, path)

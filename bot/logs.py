"""Logging: a file under MLBOT_HOME/logs, stderr for warnings, and the token never written."""
from __future__ import annotations

import logging
import logging.handlers
import os
import re
from pathlib import Path

_SECRETS: set[str] = set()
# Discord bot tokens: three base64url parts separated by dots.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}")


def register_secret(value: str) -> None:
    if value and len(value) >= 8:  # a token that short is not a token; redacting it would mangle words
        _SECRETS.add(value)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _TOKEN_SHAPE.sub("[redacted]", message)
        for secret in _SECRETS:
            cleaned = cleaned.replace(secret, "[redacted]")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def setup_logging(home: Path, console_level: int = logging.WARNING) -> Path:
    log_dir = home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    # Each gateway process of a cluster writes its own file (MLBOT_LOG_FILE_NAME), since a
    # rotating file cannot be shared between processes.
    path = log_dir / Path(os.environ.get("MLBOT_LOG_FILE_NAME", "mlbot.log")).name
    redact = RedactSecrets()
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=5 * 2**20, backupCount=3, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    file_handler.addFilter(redact)
    stderr = logging.StreamHandler()
    stderr.setLevel(console_level)
    stderr.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    stderr.addFilter(redact)
    root = logging.getLogger()
    root.handlers[:] = [file_handler, stderr]
    root.setLevel(os.environ.get("MLBOT_LOG_LEVEL", "INFO").upper())
    return path

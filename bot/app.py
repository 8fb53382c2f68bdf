"""The running bot's parts, shared by every adapter: storage, runtimes, services, trainer."""
from __future__ import annotations

import asyncio
import logging
import os
import time

from bot.services.digits import DigitService
from bot.services.tone import ToneService
from bot.services.essay import EssayService
from bot.services.tracks import TrackService
from bot.services.friend import FriendService
from bot.shards import ShardPlan
from bot.training import BackgroundTrainer
from bot.users import load_or_create_secret, user_key
from ml.home import ModelHome
from ml.runtime import ServiceRuntime, cap_torch_threads
from storage import ResultCache, open_database
from storage.cache import DEFAULT_MAX_BYTES
from storage.command_log import CommandLog
from storage.cooldowns import CooldownStore
from storage.feedback import FeedbackStore
from storage.service_switches import ServiceSwitches
from storage.settings import BotState, GuildSettings

log = logging.getLogger(__name__)

SECRET_STATE_KEY = "install-secret"


class App:
    def __init__(self, home: ModelHome | None = None, *, background_training: bool = False,
                 progress_bars: bool = False, quick_training: bool = False):
        self.home = home or ModelHome()
        # MLBOT_BACKGROUND_TRAINING=0: this process never builds models (say, gateway processes
        # on a machine whose models are provisioned, or trained, elsewhere).
        self.background_training = background_training and os.environ.get("MLBOT_BACKGROUND_TRAINING", "1") != "0"
        self.db = open_database(sqlite_path=self.home.db_path)  # MLBOT_DATABASE_URL, else SQLite
        max_bytes = int(float(os.environ.get("MLBOT_CACHE_MAX_MB", DEFAULT_MAX_BYTES / 2**20)) * 2**20)
        self.cache = ResultCache(self.db, max_bytes=max_bytes)
        from bot.commands.config import SETTING_DEFAULTS

        self.settings = GuildSettings(self.db, SETTING_DEFAULTS)
        self.cooldowns = CooldownStore(self.db)
        self.state = BotState(self.db)
        self.switches = ServiceSwitches(self.db)
        self.command_log = CommandLog(self.db)
        self.feedback = FeedbackStore(self.db)  # users' corrections of /tone and /digit answers
        self.trainer = BackgroundTrainer(self.home, bars=progress_bars, quick=quick_training)
        from bot.inference import make_backend
        from bot.inference.local import LocalBackend

        self.local_inference = LocalBackend(self)
        self.inference = make_backend(self)  # the local one unless MLBOT_RAY_ADDRESS is set
        self.digits = DigitService(self)
        self.tone = ToneService(self)
        self.essays = EssayService(self)
        self.tracks = TrackService(self)
        self.friend = FriendService(self)
        self._runtimes: dict[str, ServiceRuntime] = {}
        self._secret: bytes | None = None
        self.shards: ShardPlan | None = None  # set by the Discord adapter when it holds shards
        self.started_at = time.time()

    async def start(self) -> "App":
        self.home.root.mkdir(parents=True, exist_ok=True)
        await self.db.open()
        log.info("storage: %s", self.db.describe())
        self._secret = await self._install_secret()
        # Importing torch takes seconds: on a thread, not on the loop. Each service's own
        # modules load with its model, on first use (bot/model_slot.py).
        await asyncio.to_thread(cap_torch_threads)
        if self.background_training:
            queued = self.trainer.start()
            if queued:
                log.info("models to build in the background: %s", ", ".join(queued))
        return self

    async def _install_secret(self) -> bytes:
        """The key of the user-id hashes. Every process sharing a database must hash alike, so
        with a shared database it is kept there (the first process's, or the one a `mlbot db
        copy` brought along); the embedded install keeps it in MLBOT_HOME/secret.key."""
        local = load_or_create_secret(self.home.root / "secret.key")
        if not self.db.shared:
            return local
        return bytes.fromhex(await self.state.get_or_set(SECRET_STATE_KEY, local.hex()))

    def runtime(self, service: str) -> ServiceRuntime:
        if service not in self._runtimes:
            self._runtimes[service] = ServiceRuntime(service, workers=1, queue_limit=64)
        return self._runtimes[service]

    async def inference_health(self) -> str:
        """What answers model calls, or raises when it cannot (for /healthz)."""
        return await self.inference.health()

    def runtimes(self) -> dict[str, ServiceRuntime]:
        return dict(self._runtimes)

    def keyed_hash(self, text: str) -> str:
        """A hash that cannot be reversed by hashing guesses without this install's secret."""
        assert self._secret is not None, "App.start() first"
        return user_key(self._secret, "text", text)

    def user_key(self, adapter: str, user_id: str) -> str:
        assert self._secret is not None, "App.start() first"
        return user_key(self._secret, adapter, user_id)

    @property
    def uptime_seconds(self) -> float:
        return time.time() - self.started_at

    async def close(self) -> None:
        await self.trainer.stop()
        await self.friend.settle()
        await self.inference.close()
        for runtime in self._runtimes.values():
            runtime.shutdown(wait=True)  # let in-flight work finish before the database closes
        await self.db.close()

    async def __aenter__(self) -> "App":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.close()


def models_overview(home: ModelHome) -> list[tuple[str, str]]:
    """(service, one line about its model) for /about and /status."""
    from ml.services import SERVICES

    lines = []
    for spec in SERVICES.values():
        ref = home.current(spec.name)
        if ref is None:
            lines.append((spec.name, "not built"))
            continue
        metrics = ref.card.get("metrics", {})
        figures = ", ".join(f"{k} {v}" for k, v in metrics.items())
        lines.append((spec.name, f"{ref.version} ({figures})" if figures else ref.version))
    return lines



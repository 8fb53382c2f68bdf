from storage.cooldowns import CooldownStore, Limit
from storage.settings import BotState, GuildSettings


async def test_sliding_window_and_refund(make_db):
    async with make_db() as db:
        store = CooldownStore(db)
        user, server = Limit("user:a", 1, 10), Limit("guild:g", 3, 60)
        assert await store.try_use([user, server], now=100) == 0
        assert await store.try_use([user, server], now=104) == 6  # the user waits 10 s from the first use
        assert await store.try_use([Limit("user:b", 1, 10), server], now=105) == 0
        assert await store.try_use([Limit("user:c", 1, 10), server], now=106) == 0
        # The server's three uses in a minute are spent: 100 + 60 - 107.
        assert await store.try_use([Limit("user:d", 1, 10), server], now=107) == 53
        await store.refund([Limit("user:c", 1, 10), server], at=106)
        assert await store.try_use([Limit("user:d", 1, 10), server], now=107) == 0
        assert await store.try_use([user, server], now=170) == 0  # windows have passed


async def test_limits_survive_reopening(make_db):
    async with make_db() as db:
        assert await CooldownStore(db).try_use([Limit("user:a", 1, 3600)]) == 0
    async with make_db() as db:
        assert await CooldownStore(db).try_use([Limit("user:a", 1, 3600)]) > 3500


async def test_settings_defaults_and_overrides(make_db):
    async with make_db() as db:
        settings = GuildSettings(db, {"prefix": "!", "cooldown_seconds": "3"})
        assert await settings.get("g1", "prefix") == "!"
        await settings.set("g1", "prefix", "?")
        assert await settings.get("g1", "prefix") == "?" and await settings.get("g2", "prefix") == "!"
        assert await settings.all("g1") == {"prefix": "?", "cooldown_seconds": "3"}
        state = BotState(db)
        assert await state.get("k") is None
        await state.set("k", "v1")
        await state.set("k", "v2")
        assert await state.get("k") == "v2"

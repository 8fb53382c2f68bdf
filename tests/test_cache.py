from storage import ResultCache, cache_key


def test_cache_key_depends_on_every_part():
    base = cache_key("digits", "v1", b"image", {"a": 1})
    assert base == cache_key("digits", "v1", b"image", {"a": 1})
    assert base != cache_key("tone", "v1", b"image", {"a": 1})
    assert base != cache_key("digits", "v2", b"image", {"a": 1})
    assert base != cache_key("digits", "v1", b"image2", {"a": 1})
    assert base != cache_key("digits", "v1", b"image", {"a": 2})
    # Parts are length-prefixed: moving bytes between parts changes the key.
    assert cache_key("ab", "c", b"") != cache_key("a", "bc", b"")


async def test_put_get_counts_hits_and_keeps_blob(make_db):
    async with make_db() as db:
        cache = ResultCache(db)
        assert await cache.get("missing") is None
        await cache.put("k", "digits", "v1", {"digits": "42"}, blob=b"\x89PNG...")
        first = await cache.get("k")
        second = await cache.get("k")
        assert first.result == {"digits": "42"} and first.blob == b"\x89PNG..."
        assert (first.hits, second.hits) == (1, 2)


async def test_eviction_keeps_the_cache_under_its_bound(make_db):
    async with make_db() as db:
        cache = ResultCache(db, max_bytes=20_000)
        for i in range(50):
            await cache.put(f"k{i}", "digits", "v1", {"i": i}, blob=bytes(1000))
        await cache.get("k48")  # recently used survives
        await cache.put("k50", "digits", "v1", {"i": 50}, blob=bytes(1000))
        stats = await cache.stats()
        assert stats["bytes"] <= 20_000
        assert await cache.get("k0") is None  # the oldest went first
        assert await cache.get("k50") is not None


async def test_forget_user_deletes_only_that_users_results(make_db):
    async with make_db() as db:
        cache = ResultCache(db)
        await cache.put("a", "digits", "v1", {"x": 1}, user_key="alice")
        await cache.put("b", "digits", "v1", {"x": 2}, user_key="bob")
        await cache.get("b", user_key="alice")  # alice also asked for b
        await cache.put("c", "digits", "v1", {"x": 3}, user_key="bob")
        assert await cache.forget_user("alice") == 2
        assert await cache.get("a") is None and await cache.get("b") is None
        assert await cache.get("c") is not None
        assert await cache.forget_user("alice") == 0

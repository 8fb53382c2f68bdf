"""Every store on both backends, and what sharing one database between processes needs:
two Database objects on the same rows stand for two processes (each has its own
connections), and real subprocesses where start-up itself is the point."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

from storage import DatabaseError, DatabaseUnavailable, ResultCache, open_database
from storage.cooldowns import CooldownStore, Limit
from storage.daily_tracks import CLAIMED, POSTED, SENDING, DailyTrackStore
from storage.friend_memory import FriendMemory
from storage.settings import BotState
from storage.tone_watch import record_watch


async def test_a_result_one_process_cached_is_served_to_the_other(make_db):
    async with make_db() as one, make_db() as other:
        await ResultCache(one).put("k", "tone", "v1", {"label": "calm"}, blob=b"\x00\x01audio", user_key="u1")
        hit = await ResultCache(other).get("k", user_key="u2")
        assert hit.result == {"label": "calm"} and hit.blob == b"\x00\x01audio" and hit.hits == 1
        # Either process forgetting a user removes what that user asked for.
        assert await ResultCache(other).forget_user("u1") == 1
        assert await ResultCache(one).get("k") is None


async def test_one_daily_post_claim_wins_among_many_processes(make_db):
    dbs = [await make_db().open() for _ in range(4)]
    try:
        stores = [DailyTrackStore(db) for db in dbs]
        won = await asyncio.gather(*(stores[i % 4].claim("g1", "2026-03-02", 7, owner=f"p{i}", now=100.0)
                                     for i in range(12)))
        assert sum(won) == 1
        winner = f"p{won.index(True)}"
        # The owner may retry its own claim; nobody else may until the lease has run out...
        assert await stores[0].claim("g1", "2026-03-02", 7, owner=winner, now=110.0)
        assert not await stores[1].claim("g1", "2026-03-02", 7, owner="late", now=200.0)
        # ...after which exactly one of the others takes it over.
        taken = await asyncio.gather(*(store.claim("g1", "2026-03-02", 7, owner=f"q{i}", now=1000.0)
                                       for i, store in enumerate(stores)))
        assert sum(taken) == 1
        # Once sending began it is never claimed again, however old.
        await stores[2].mark("g1", "2026-03-02", SENDING, seed=7)
        assert not any(await asyncio.gather(*(s.claim("g1", "2026-03-02", 7, owner="x", now=1e9) for s in stores)))
        await stores[3].mark("g1", "2026-03-02", POSTED, message_id="m1", seed=7)
        post = await stores[0].post("g1", "2026-03-02")
        assert (post.state, post.message_id) == (POSTED, "m1")
    finally:
        for db in dbs:
            await db.close()


async def test_a_cooldown_taken_in_one_process_holds_in_the_other(make_db):
    async with make_db() as one, make_db() as other:
        stores = [CooldownStore(one), CooldownStore(other)]
        limit = [Limit("user:a:digit", 1, 30), Limit("guild:g", 100, 60)]
        waits = await asyncio.gather(*(stores[i % 2].try_use(limit, now=50.0 + i * 1e-3) for i in range(10)))
        assert sum(1 for w in waits if w == 0) == 1
        assert await stores[1].try_use(limit, now=60.0) == pytest.approx(20.0, abs=0.01)
        # The server-wide budget is shared too: two users, one use left between them.
        server = Limit("guild:h", 2, 60)
        assert await stores[0].try_use([Limit("user:b", 5, 60), server], now=10) == 0
        assert await stores[1].try_use([Limit("user:c", 5, 60), server], now=11) == 0
        assert await stores[0].try_use([Limit("user:d", 5, 60), server], now=12) > 0


async def test_friend_memory_round_trip_and_forget_from_another_process(make_db):
    async with make_db() as one, make_db() as other:
        memory, elsewhere = FriendMemory(one), FriendMemory(other)
        await memory.add_exchange("u1", "c1", "Ana", "my dog is called Biscuit", "What a name!",
                                  [("pet:dog", "The user's dog is called Biscuit", "Biscuit")])
        await elsewhere.add_exchange("u1", "c1", "Ana", "I live in Porto", "Lovely city.", [])
        await memory.add_exchange("u2", "c1", "Bo", "hello", "Hi Bo!", [])
        stored = await elsewhere.load("u1", "c1", recent=10)
        assert [t.content for t in stored.turns] == ["my dog is called Biscuit", "What a name!",
                                                     "I live in Porto", "Lovely city."]
        assert [(f.key, f.value) for f in stored.facts] == [("pet:dog", "Biscuit")]
        assert await memory.user_messages("u1", "c1", 5) == ["my dog is called Biscuit", "I live in Porto"]
        old = await memory.unsummarised_before_recent("u1", "c1", recent=2)
        assert [t.content for t in old] == ["my dog is called Biscuit", "What a name!"]
        await elsewhere.save_summary("u1", "c1", "Ana has a dog.", through_id=old[-1].id)
        assert await memory.summary("u1", "c1") == "Ana has a dog."
        assert await memory.unsummarised_before_recent("u1", "c1", recent=2) == []
        await memory.set_persona("user:u1", "a pirate")
        await memory.remember_thread("t1", "u1")
        await memory.remember_thread("t1", "u1")  # twice is one row
        assert await elsewhere.persona("u1", None) == "a pirate" and await elsewhere.is_friend_thread("t1")
        assert await elsewhere.forget_user("u1") == 4 + 1 + 1 + 1 + 1  # turns, summary, fact, persona, thread
        assert (await memory.load("u1", "c1", recent=10)).turns == []
        assert len((await memory.load("u2", "c1", recent=10)).turns) == 2


async def test_one_summariser_at_a_time_across_processes(make_db):
    async with make_db() as one, make_db() as other:
        async with one.exclusive("friend-summary:c1") as first:
            async with other.exclusive("friend-summary:c1") as second:
                assert first and not second
            async with other.exclusive("friend-summary:c2") as unrelated:
                assert unrelated
        async with other.exclusive("friend-summary:c1") as after:
            assert after


async def test_bot_state_first_writer_wins_and_tone_watch_keeps_scores(make_db):
    async with make_db() as one, make_db() as other:
        assert await BotState(one).get_or_set("install-secret", "aa") == "aa"
        assert await BotState(other).get_or_set("install-secret", "bb") == "aa"
        await record_watch(one, "mh", "ch", 0.91234, True)
        assert [tuple(r) for r in await other.fetchall("SELECT score, flagged FROM tone_watch_log")] == [(0.9123, 1)]


async def test_eviction_bounds_blobs_on_both_backends(make_db):
    async with make_db() as db:
        cache = ResultCache(db, max_bytes=50_000)
        for i in range(30):
            await cache.put(f"k{i}", "tracks", "v1", {"i": i}, blob=bytes(4000))
        stats = await cache.stats()
        assert stats["bytes"] <= 50_000 and stats["entries"] < 30
        assert await cache.get("k29") is not None and await cache.get("k0") is None


# ----- PostgreSQL only: failures, named clearly ------------------------------------------------
async def test_an_unreachable_server_is_named_without_the_password(postgres):
    from tests.postgres_server import free_port

    with pytest.raises(DatabaseError) as info:
        await open_database(f"postgresql://mlbot:s3cret-pw@127.0.0.1:{free_port()}/mlbot").open()
    assert "127.0.0.1" in str(info.value) and "s3cret" not in str(info.value)
    with pytest.raises(DatabaseError, match="refused the login as nosuchrole"):
        await open_database(postgres.url("postgres").replace("postgres@", "nosuchrole:s3cret-pw@")).open()
    with pytest.raises(DatabaseError, match="has no database 'missing'"):
        await open_database(postgres.url("missing")).open()


async def test_a_connection_lost_mid_run_is_retried_or_named(postgres):
    url = postgres.new_database()
    async with open_database(url) as db:
        await BotState(db).set("k", "v")

        def kill_connections() -> None:
            postgres.psql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                               " WHERE datname = current_database() AND pid <> pg_backend_pid()")

        kill_connections()
        assert await BotState(db).get("k") == "v"  # a read: retried on a new connection
        kill_connections()
        await BotState(db).set("k", "w")  # a write whose BEGIN failed: retried before any work ran
        with pytest.raises(DatabaseUnavailable, match="PostgreSQL at 127.0.0.1"):
            async with db.transaction() as tx:
                await tx.execute("UPDATE bot_state SET value = 'x' WHERE key = 'k'")
                kill_connections()
                await tx.execute("UPDATE bot_state SET value = 'y' WHERE key = 'k'")
        assert await BotState(db).get("k") == "w"  # nothing of the broken transaction stayed


MIGRATE = textwrap.dedent("""
    import asyncio, sys
    from storage import open_database
    async def main():
        db = await open_database(sys.argv[1]).open()
        print(await db.schema_version())
        await db.close()
    asyncio.run(main())
""")


async def test_processes_starting_together_migrate_once(database_url):
    started = [subprocess.Popen([sys.executable, "-c", MIGRATE, database_url], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [process.communicate(timeout=120) for process in started]
    assert all(process.returncode == 0 for process in started), [err for _, err in outputs]
    async with open_database(database_url) as db:
        versions = [row[0] for row in await db.fetchall("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == sorted(set(versions)) and len(versions) == await db.schema_version()
    assert {out.strip() for out, _ in outputs} == {str(versions[-1])}

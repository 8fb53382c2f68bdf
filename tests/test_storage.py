import sqlite3

import pytest

from storage import DatabaseError, ResultCache, cache_key
from storage.backends import postgres_migrations, sqlite_migrations
from storage.backends.sqlite import SqliteDatabase as Database


async def test_migrations_apply_once_and_twice_is_harmless(make_db):
    async with make_db() as db:
        migrations = sqlite_migrations.MIGRATIONS if db.dialect == "sqlite" else postgres_migrations.MIGRATIONS
        assert await db.schema_version() == migrations[-1][0]
        assert await db.migrate() == []  # second run: nothing left to apply
        rows = await db.fetchall("SELECT version FROM schema_migrations ORDER BY version")
        assert [r[0] for r in rows] == [m[0] for m in migrations]
        assert sorted(await db.row_counts()) == sorted(postgres_migrations.TABLES)
    async with make_db() as db:  # and a reopen applies nothing either
        assert await db.migrate() == []


def test_both_backends_have_the_same_migrations():
    assert [m[:2] for m in sqlite_migrations.MIGRATIONS] == [m[:2] for m in postgres_migrations.MIGRATIONS]


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    async with Database(tmp_path / "bot.sqlite3") as db:
        assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"
        assert (await db.fetchone("PRAGMA busy_timeout"))[0] == 5000


async def test_transaction_rolls_back_on_error(make_db):
    async with make_db() as db:
        cache = ResultCache(db)
        with pytest.raises(RuntimeError):
            async with db.transaction() as tx:
                await tx.execute(
                    "INSERT INTO cache (key, service, model_version, result, size, created_at, last_used_at)"
                    " VALUES ('k', 's', 'v', '{}', 2, 0, 0)"
                )
                raise RuntimeError("boom")
        assert (await cache.stats())["entries"] == 0


async def test_damaged_database_is_named_and_left_untouched(tmp_path):
    path = tmp_path / "bot.sqlite3"
    garbage = b"this is not a database, but someone's precious file\n" * 100
    path.write_bytes(garbage)
    with pytest.raises(DatabaseError) as info:
        await Database(path).open()
    assert str(path) in str(info.value)
    assert path.read_bytes() == garbage


async def test_corrupted_pages_are_detected_and_file_kept(tmp_path):
    path = tmp_path / "bot.sqlite3"
    async with Database(path) as db:
        cache = ResultCache(db)
        for i in range(200):
            await cache.put(cache_key("s", "v", str(i)), "s", "v", {"i": i, "pad": "x" * 500})
    data = bytearray(path.read_bytes())
    for offset in range(4096 * 2, len(data), 4096):  # scribble over every page after the first two
        data[offset + 10 : offset + 200] = b"\xff" * 190
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    with pytest.raises(DatabaseError) as info:
        await Database(path).open()
    assert str(path) in str(info.value)
    assert path.read_bytes() == before


async def test_a_folder_in_place_of_the_database_is_refused(tmp_path):
    path = tmp_path / "bot.sqlite3"
    path.mkdir()
    with pytest.raises(DatabaseError, match="not a regular file"):
        await Database(path).open()


async def test_writes_are_visible_to_another_connection(tmp_path):
    path = tmp_path / "bot.sqlite3"
    async with Database(path) as db:
        await ResultCache(db).put("k1", "digits", "v1", {"digits": "7"})
        other = sqlite3.connect(path)
        assert other.execute("SELECT result FROM cache WHERE key='k1'").fetchone()[0] == '{"digits": "7"}'
        other.close()

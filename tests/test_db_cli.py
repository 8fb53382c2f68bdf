"""`mlbot db copy` and `mlbot db status`, and what a database that is not there looks like."""
from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from bot.adapters.cli import main
from storage import ResultCache, open_database
from storage.backends import postgres_migrations
from storage.cooldowns import CooldownStore, Limit
from storage.daily_tracks import DailyTrackStore
from storage.friend_memory import FriendMemory
from storage.settings import GuildSettings
from storage.tone_watch import record_watch


async def fill_sqlite_install(home) -> None:
    """An install that was used: a bit of every kind of row, and its user-hash key."""
    home.root.mkdir(parents=True, exist_ok=True)
    (home.root / "secret.key").write_text("ab" * 32 + "\n")
    async with open_database(sqlite_path=home.db_path) as db:
        await ResultCache(db).put("k1", "tracks", "v1", {"title": "Dawn"}, blob=bytes(range(256)) * 40, user_key="u1")
        await ResultCache(db).put("k2", "tone", "v1", {"label": "calm"}, user_key="u2")
        await GuildSettings(db, {"prefix": "!"}).set("g1", "prefix", "?")
        await CooldownStore(db).try_use([Limit("user:u1:digit", 3, 60)], now=5.0)
        await CooldownStore(db).try_use([Limit("user:u1:digit", 3, 60)], now=5.0)  # two identical rows
        await DailyTrackStore(db).set_schedule("g1", "c1", "09:00", "Europe/Paris", now=1.0)
        await DailyTrackStore(db).claim("g1", "2026-03-02", 5, owner="p1", now=2.0)
        memory = FriendMemory(db)
        await memory.add_exchange("u1", "c1", "Ana", "my cat is called Miso", "Hello Miso!",
                                  [("pet:cat", "The user's cat is called Miso", "Miso")])
        await memory.save_summary("u1", "c1", "Ana has a cat.", through_id=1)
        await memory.set_persona("user:u1", "a sea captain")
        await record_watch(db, "m", "c", 0.5, False)


async def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """The command line as a user runs it (it starts its own event loop, so on a thread)."""
    code = await asyncio.to_thread(main, list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


async def test_copy_moves_every_row_twice_is_harmless_and_the_source_is_untouched(home, postgres, capsys):
    await fill_sqlite_install(home)
    source = f"sqlite://{home.db_path}"
    before = hashlib.sha256(home.db_path.read_bytes()).hexdigest()
    target = postgres.new_database()

    code, out, _ = await run_cli(capsys, "db", "copy", "--from", source, "--to", target, "--json")
    first = json.loads(out)
    assert code == 0 and first["complete"]
    for table, report in first["tables"].items():
        assert report["destination"] == report["source"] == report["copied"], table
    assert first["tables"]["cooldown_events"]["source"] == 2 and first["tables"]["cache"]["source"] == 2

    code, out, _ = await run_cli(capsys, "db", "copy", "--from", source, "--to", target, "--json")
    second = json.loads(out)
    assert code == 0 and all(r["copied"] == 0 for r in second["tables"].values())
    # the same counts, but for the user-hash key the first copy added to bot_state
    assert {t: r["destination"] - r["source"] for t, r in second["tables"].items() if r["destination"] != r["source"]} \
        == {"bot_state": 1}
    assert hashlib.sha256(home.db_path.read_bytes()).hexdigest() == before

    # The blob came across byte for byte, and users are hashed with the source's key.
    assert postgres.psql(target, "SELECT md5(blob) FROM cache WHERE key = 'k1'") == \
        hashlib.md5(bytes(range(256)) * 40).hexdigest()
    assert postgres.psql(target, "SELECT value FROM bot_state WHERE key = 'install-secret'") == "ab" * 32
    # New turns written after the copy get ids after the copied ones.
    assert postgres.psql(target, "INSERT INTO friend_turns (user_key, conversation, role, speaker, content, at)"
                                 " VALUES ('u1', 'c1', 'user', 'Ana', 'later', 3) RETURNING id") == "3"

    code, out, _ = await run_cli(capsys, "db", "copy", "--from", source, "--to", target)
    assert code == 0 and "row counts match" in out and "carried over" in out

    # ...and back again, into a fresh SQLite file: the same rows.
    back = home.root / "back" / "mlbot.sqlite3"
    code, out, _ = await run_cli(capsys, "db", "copy", "--from", target, "--to", f"sqlite://{back}", "--json")
    assert code == 0 and json.loads(out)["complete"]
    async with open_database(f"sqlite://{back}") as copy, open_database(source) as original:
        counts, expected = await copy.row_counts(), await original.row_counts()
        assert counts == {**expected, "bot_state": 1, "friend_turns": 3}  # the key, and the later turn
        assert (await copy.fetchone("SELECT blob FROM cache WHERE key = 'k1'"))[0] == bytes(range(256)) * 40


async def test_status_names_backend_version_and_counts(home, postgres, capsys, monkeypatch):
    await fill_sqlite_install(home)
    code, out, _ = await run_cli(capsys, "db", "status", "--json")
    local = json.loads(out)
    assert code == 0 and local["backend"] == "sqlite" and local["rows"]["friend_turns"] == 2
    monkeypatch.setenv("MLBOT_DATABASE_URL", postgres.new_database())
    code, out, _ = await run_cli(capsys, "db", "status")
    latest = postgres_migrations.MIGRATIONS[-1][0]
    assert code == 0 and "backend: postgresql" in out and f"schema version: {latest}" in out


@pytest.mark.parametrize("command", [["db", "status"], ["essay", "anything"], ["friend", "hello"]])
def test_an_unreachable_database_is_one_line_and_a_nonzero_exit(home, monkeypatch, capsys, command):
    from tests.postgres_server import free_port

    monkeypatch.setenv("MLBOT_DATABASE_URL", f"postgresql://mlbot:hunter2@127.0.0.1:{free_port()}/mlbot")
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main(command))
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code not in (0, None)
    assert len(err.splitlines()) == 1 and "cannot reach PostgreSQL at 127.0.0.1" in err and "hunter2" not in err
    assert "hunter2" not in (home.root / "logs" / "mlbot.log").read_text() if (home.root / "logs").exists() else True

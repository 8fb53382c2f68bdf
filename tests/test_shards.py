"""Shard plans and the refusals that keep SQLite to one gateway process."""
from __future__ import annotations

import pytest

from bot.adapters.cli import main
from bot.adapters.cli_gateway import Cluster, GatewayRefused, SqliteGatewayLock, plan_for_run
from bot.shards import ShardPlan, parse_shard_ids, shard_of, split_shards


def test_shard_ids_ranges_and_bad_ones():
    assert parse_shard_ids("0,3-4", 6) == (0, 3, 4) and parse_shard_ids(None, 3) == (0, 1, 2)
    for text, message in (("7", "shard 7 does not exist"), ("1,1", "listed twice"), ("a", "not a shard id")):
        with pytest.raises(ValueError, match=message):
            parse_shard_ids(text, 4)


def test_shards_split_into_contiguous_ranges_and_servers_find_their_shard():
    assert split_shards(10, 3) == [(0, 1, 2, 3), (4, 5, 6), (7, 8, 9)]
    with pytest.raises(ValueError):
        split_shards(2, 3)
    plan = ShardPlan(4, (1, 2))
    guild = (123 << 22) | 5  # (guild_id >> 22) % 4 == 3
    assert shard_of(guild, 4) == 3 and not plan.owns(guild) and plan.owns((122 << 22) | 9)
    assert not plan.owns(None)  # DMs come on shard 0
    assert plan.claim_owner(str(guild)) == "shard-3-of-4" and plan.describe() == "shards 1,2 of 4"


def test_sqlite_refuses_a_partial_shard_set_and_a_second_gateway(home, monkeypatch):
    monkeypatch.delenv("MLBOT_DATABASE_URL", raising=False)
    assert plan_for_run(2, None, 1).whole  # all shards in one process: fine on SQLite
    with pytest.raises(GatewayRefused, match="set MLBOT_DATABASE_URL=postgresql://"):
        plan_for_run(2, "0", 1)
    home.root.mkdir(parents=True)
    with SqliteGatewayLock(home):
        with pytest.raises(GatewayRefused, match="another gateway process is running on this MLBOT_HOME"):
            with SqliteGatewayLock(home):
                pass
    monkeypatch.setenv("MLBOT_DATABASE_URL", "postgresql://mlbot@127.0.0.1:5432/mlbot")
    assert plan_for_run(2, "1", 1).ids == (1,)


def test_cluster_needs_postgresql_and_a_token(home, monkeypatch, capsys):
    monkeypatch.delenv("MLBOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("DISCORD_TOKEN", "a-token-for-this-test-only")
    assert main(["cluster", "--processes", "2"]) == 2
    assert "needs shared state: set MLBOT_DATABASE_URL" in capsys.readouterr().err
    monkeypatch.delenv("DISCORD_TOKEN")
    assert main(["cluster", "--processes", "2"]) == 2
    assert "set DISCORD_TOKEN" in capsys.readouterr().err
    assert Cluster(4, 2, ["mlbot"]).command(1) == ["mlbot", "run", "--shard-count", "4", "--shard-ids", "2-3"]

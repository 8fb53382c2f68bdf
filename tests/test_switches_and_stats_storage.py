"""The service switches and the command log on both backends (SQLite and PostgreSQL)."""
from __future__ import annotations

import pytest

from storage.command_log import KEEP_SECONDS, CommandLog
from storage.service_switches import DMS, WHOLE_SERVER, ServiceSwitches


async def test_the_most_specific_switch_wins(make_db):
    async with make_db() as db, make_db() as other:
        switches, elsewhere = ServiceSwitches(db), ServiceSwitches(other)
        assert await switches.decide("g1", ["c1"], "digit") == (True, "default")  # nothing chosen: on
        await switches.set("g1", WHOLE_SERVER, "digit", False)
        # Another process on the same rows sees the choice at once.
        decision = await elsewhere.decide("g1", ["c1"], "digit")
        assert (decision.enabled, decision.where) == (False, "server")
        await switches.set("g1", "c2", "digit", True)   # off for the server, on in one channel
        assert (await elsewhere.decide("g1", ["c2"], "digit")).enabled
        assert (await elsewhere.decide("g1", ["t9", "c2"], "digit")).enabled  # a thread follows its parent
        await switches.set("g1", "t9", "digit", False)
        assert (await elsewhere.decide("g1", ["t9", "c2"], "digit")).where == "channel"
        assert not (await elsewhere.decide("g1", ["t9", "c2"], "digit")).enabled
        # Other servers and other services are untouched.
        assert (await elsewhere.decide("g2", ["c1"], "digit")).enabled
        assert (await elsewhere.decide("g1", ["c1"], "tone")).enabled
        # Removing a choice hands the decision back to the level above.
        await switches.set("g1", "c2", "digit", None)
        assert not (await elsewhere.decide("g1", ["c2"], "digit")).enabled
        await switches.set("g1", WHOLE_SERVER, "digit", True)   # setting twice updates the row
        assert (await elsewhere.decide("g1", ["c2"], "digit")).enabled
        listed = [(s.channel_id, s.service, s.enabled) for s in await elsewhere.listing("g1")]
        assert listed == [(WHOLE_SERVER, "digit", True), ("t9", "digit", False)]


async def test_the_dm_switch_is_separate_from_servers(make_db):
    async with make_db() as db:
        switches = ServiceSwitches(db)
        await switches.set("g1", WHOLE_SERVER, "friend", False)
        assert (await switches.decide(None, [], "friend")).enabled     # a server's choice is not the DMs'
        await switches.set(DMS, WHOLE_SERVER, "friend", False)
        assert await switches.decide(None, [], "friend") == (False, "dm")
        assert (await switches.decide("g2", ["c"], "friend")).enabled  # nor the DMs' a server's


async def test_command_log_counts_hits_busy_and_the_median(make_db):
    async with make_db() as db, make_db() as other:
        log, elsewhere = CommandLog(db), CommandLog(other)
        now = 1_000_000.0
        for seconds in (0.1, 0.3, 0.2, 5.0):
            await log.record("g1", "digit", "ok", seconds, cached=False, now=now - 10)
        await log.record("g1", "digit", "ok", 0.01, cached=True, now=now - 5)
        await elsewhere.record("g1", "digit", "busy", 0.002, cached=None, now=now - 4)
        await elsewhere.record("g1", "tone", "ok", 0.5, cached=False, now=now - 3)
        await elsewhere.record("g2", "digit", "ok", 9.0, cached=False, now=now - 2)   # another server
        await log.record("g1", "digit", "ok", 7.0, cached=False, now=now - 2 * 86400)  # older than a day
        stats = {s.service: s for s in await elsewhere.summary("g1", since=now - 86400)}
        digit = stats["digit"]
        assert (digit.commands, digit.cache_hits, digit.cache_lookups, digit.busy) == (6, 1, 5, 1)
        assert digit.hit_rate == pytest.approx(0.2)
        assert digit.median_seconds == pytest.approx(0.2)   # of 0.01, 0.1, 0.2, 0.3, 5.0 (busy excluded)
        assert digit.outcomes == {"busy": 1, "ok": 5}
        assert stats["tone"].median_seconds == pytest.approx(0.5) and stats["tone"].busy == 0
        everywhere = {s.service: s for s in await log.summary(None, since=now - 86400)}
        assert everywhere["digit"].commands == 7
        assert everywhere["digit"].median_seconds == pytest.approx((0.2 + 0.3) / 2)  # an even count: the mean of two


async def test_old_command_rows_are_pruned(make_db):
    async with make_db() as db:
        log = CommandLog(db)
        await log.record("g1", "digit", "ok", 0.1, cached=False, now=100.0)
        await log.record("g1", "digit", "ok", 0.1, cached=False, now=100.0 + KEEP_SECONDS + 1)  # prunes
        assert int((await db.fetchone("SELECT COUNT(*) FROM command_events"))[0]) == 1

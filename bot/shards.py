"""Which Discord shards this process holds, and which servers that makes its own.

Discord puts a server on shard (guild_id >> 22) % shard_count and sends its events only to
the connection holding that shard; DMs come on shard 0. A process holding shards `ids` of
`count` answers those servers and is the one that posts their daily track.
"""
from __future__ import annotations

import os
from dataclasses import dataclass


def shard_of(guild_id: int | str, shard_count: int) -> int:
    return (int(guild_id) >> 22) % shard_count


@dataclass(frozen=True)
class ShardPlan:
    count: int
    ids: tuple[int, ...]
    max_concurrency: int = 1  # identifies allowed at once, in buckets shard_id % max_concurrency

    def owns(self, guild_id: int | str | None) -> bool:
        return (shard_of(guild_id, self.count) if guild_id is not None else 0) in self.ids

    @property
    def whole(self) -> bool:
        return set(self.ids) == set(range(self.count))

    def describe(self) -> str:
        return f"shard{'s' if len(self.ids) > 1 else ''} {','.join(map(str, self.ids))} of {self.count}"

    def claim_owner(self, guild_id: str) -> str:
        """Who owns a server's daily-post claim: its shard, not the process, so a restarted
        process holding the shard takes over a claim its predecessor left before sending."""
        return f"shard-{shard_of(guild_id, self.count)}-of-{self.count}"


def parse_shard_ids(text: str | None, count: int) -> tuple[int, ...]:
    """"0,1", "2-5" or "0,3-4" -> shard ids, each below `count`; None or "" -> all of them."""
    if not text:
        return tuple(range(count))
    ids: list[int] = []
    for part in text.replace(" ", "").split(","):
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise ValueError(f"--shard-ids: {part!r} is not a shard id or a range like 2-5")
        ids.extend(range(int(low), int(high or low) + 1))
    bad = [i for i in ids if i >= count]
    if bad:
        raise ValueError(f"--shard-ids: shard {bad[0]} does not exist with --shard-count {count} (ids are 0-{count - 1})")
    if len(set(ids)) != len(ids):
        raise ValueError("--shard-ids: a shard is listed twice")
    return tuple(sorted(ids))


def split_shards(count: int, processes: int) -> list[tuple[int, ...]]:
    """Contiguous, near-equal ranges: 10 shards over 3 processes -> 0-3, 4-6, 7-9."""
    if not 1 <= processes <= count:
        raise ValueError(f"--processes must be between 1 and the shard count ({count})")
    base, extra = divmod(count, processes)
    ranges, start = [], 0
    for index in range(processes):
        size = base + (1 if index < extra else 0)
        ranges.append(tuple(range(start, start + size)))
        start += size
    return ranges


def identify_spacing() -> float:
    """Seconds between identifies in one bucket (Discord: 5)."""
    return float(os.environ.get("MLBOT_IDENTIFY_SPACING", "5"))

"""A fake Discord server for end-to-end tests of the real discord.py client."""
from tests.fake_discord.server import Channel, FakeClock, FakeDiscord, InteractionRecord, SentMessage

__all__ = ["Channel", "FakeClock", "FakeDiscord", "InteractionRecord", "SentMessage"]

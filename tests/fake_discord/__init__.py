"""A fake Discord server for end-to-end tests of the real discord.py client."""
from tests.fake_discord.server import FakeDiscord, InteractionRecord, SentMessage

__all__ = ["FakeDiscord", "InteractionRecord", "SentMessage"]

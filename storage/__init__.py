"""SQLite storage for mlbot: schema migrations and the result cache.

Never imports bot/ or discord, so it can be used from training scripts and tests alone.
"""
from storage.backends.sqlite import Database, DatabaseError
from storage.cache import ResultCache, CachedResult, cache_key

__all__ = ["Database", "DatabaseError", "ResultCache", "CachedResult", "cache_key"]

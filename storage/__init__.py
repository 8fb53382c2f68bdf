"""mlbot's storage: one API (storage/db.py) over two backends (storage/backends/):
SQLite, embedded and the default, and PostgreSQL, shared by processes on many machines.

Never imports bot/ or discord, so it can be used from training scripts and tests alone.
"""
from storage.db import Database, DatabaseError, DatabaseUnavailable, Transaction, open_database
from storage.cache import ResultCache, CachedResult, cache_key

__all__ = ["Database", "DatabaseError", "DatabaseUnavailable", "Transaction", "open_database",
           "ResultCache", "CachedResult", "cache_key"]

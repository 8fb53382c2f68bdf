"""Storage backends: SQLite (embedded, the default) and PostgreSQL (shared between processes)."""

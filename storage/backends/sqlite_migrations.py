"""Versioned schema migrations, applied in order at start.

Append new migrations; never edit one that has shipped, since databases in the field
record which versions they already hold.
"""

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "result cache",
        """
        CREATE TABLE cache (
            key           TEXT PRIMARY KEY,
            service       TEXT NOT NULL,
            model_version TEXT NOT NULL,
            result        TEXT NOT NULL,
            blob          BLOB,
            size          INTEGER NOT NULL,
            hits          INTEGER NOT NULL DEFAULT 0,
            created_at    REAL NOT NULL,
            last_used_at  REAL NOT NULL
        );
        CREATE INDEX cache_by_last_use ON cache(last_used_at);
        CREATE INDEX cache_by_service ON cache(service, model_version);
        """,
    ),
    (
        2,
        "who asked for each cached result, so a user can delete their data",
        """
        CREATE TABLE cache_users (
            key      TEXT NOT NULL REFERENCES cache(key) ON DELETE CASCADE,
            user_key TEXT NOT NULL,
            PRIMARY KEY (key, user_key)
        );
        CREATE INDEX cache_users_by_user ON cache_users(user_key);
        """,
    ),
    (
        3,
        "cooldowns, per-server settings, bot state",
        """
        CREATE TABLE cooldown_events (
            bucket TEXT NOT NULL,
            at     REAL NOT NULL
        );
        CREATE INDEX cooldown_events_by_bucket ON cooldown_events(bucket, at);
        CREATE TABLE guild_settings (
            guild_id TEXT NOT NULL,
            key      TEXT NOT NULL,
            value    TEXT NOT NULL,
            PRIMARY KEY (guild_id, key)
        );
        CREATE TABLE bot_state (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    ),
    (
        4,
        "tone watch log: hashes and scores only, never message text",
        """
        CREATE TABLE tone_watch_log (
            message_hash TEXT NOT NULL,
            channel_hash TEXT NOT NULL,
            score        REAL NOT NULL,
            flagged      INTEGER NOT NULL,
            at           REAL NOT NULL
        );
        """,
    ),
    (
        5,
        "daily track: one schedule per server, and one claim per server and local day",
        """
        CREATE TABLE daily_track_schedules (
            guild_id   TEXT PRIMARY KEY,
            channel_id TEXT NOT NULL,
            post_time  TEXT NOT NULL,
            timezone   TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE daily_track_posts (
            guild_id     TEXT NOT NULL,
            day          TEXT NOT NULL,
            state        TEXT NOT NULL,
            seed         INTEGER NOT NULL,
            claimed_at   REAL NOT NULL,
            claimed_by   TEXT,
            completed_at REAL,
            message_id   TEXT,
            detail       TEXT,
            PRIMARY KEY (guild_id, day)
        );
        """,
    ),
    (
        6,
        "friend: conversation turns, rolling summaries, remembered facts, personas, threads it opened",
        """
        CREATE TABLE friend_turns (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            user_key     TEXT NOT NULL,
            conversation TEXT NOT NULL,
            role         TEXT NOT NULL,
            speaker      TEXT NOT NULL,
            content      TEXT NOT NULL,
            summarised   INTEGER NOT NULL DEFAULT 0,
            at           REAL NOT NULL
        );
        CREATE INDEX friend_turns_by_conversation ON friend_turns(user_key, conversation, id);
        CREATE TABLE friend_summaries (
            user_key     TEXT NOT NULL,
            conversation TEXT NOT NULL,
            summary      TEXT NOT NULL,
            updated_at   REAL NOT NULL,
            PRIMARY KEY (user_key, conversation)
        );
        CREATE TABLE friend_facts (
            user_key     TEXT NOT NULL,
            conversation TEXT NOT NULL,
            key          TEXT NOT NULL,
            text         TEXT NOT NULL,
            at           REAL NOT NULL,
            PRIMARY KEY (user_key, conversation, key)
        );
        CREATE TABLE friend_personas (
            scope   TEXT PRIMARY KEY,
            persona TEXT NOT NULL,
            set_at  REAL NOT NULL
        );
        CREATE TABLE friend_threads (
            channel_id TEXT PRIMARY KEY,
            user_key   TEXT NOT NULL,
            opened_at  REAL NOT NULL
        );
        """,
    ),
    (
        7,
        "friend: each fact's value (what answers a question about it), facts in the third person",
        """
        ALTER TABLE friend_facts ADD COLUMN value TEXT;
        UPDATE friend_facts SET text = 'The user''s ' || substr(text, 7) WHERE text LIKE 'their %';
        UPDATE friend_facts SET text = 'The user''s name is ' || substr(text, 24) WHERE text LIKE 'they like to be called %';
        UPDATE friend_facts SET text = 'The user lives ' || substr(text, 11) WHERE text LIKE 'they live %';
        UPDATE friend_facts SET text = 'The user works ' || substr(text, 11) WHERE text LIKE 'they work %';
        UPDATE friend_facts SET text = 'The user likes ' || substr(text, 11) WHERE text LIKE 'they like %';
        UPDATE friend_facts SET text = 'The user dislikes ' || substr(text, 14) WHERE text LIKE 'they dislike %';
        UPDATE friend_facts SET text = 'The user has ' || substr(text, 11) WHERE text LIKE 'they have %';
        UPDATE friend_facts SET text = 'The user is ' || substr(text, 10) WHERE text LIKE 'they are %';
        """,
    ),
    (
        8,
        "service switches per server, channel and DM; a log of commands for /stats (no user ids)",
        """
        CREATE TABLE service_switches (
            guild_id   TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            service    TEXT NOT NULL,
            enabled    INTEGER NOT NULL,
            changed_at REAL NOT NULL,
            PRIMARY KEY (guild_id, channel_id, service)
        );
        CREATE TABLE command_events (
            at       REAL NOT NULL,
            guild_id TEXT NOT NULL,
            service  TEXT NOT NULL,
            outcome  TEXT NOT NULL,
            seconds  REAL NOT NULL,
            cached   INTEGER
        );
        CREATE INDEX command_events_by_time ON command_events(at);
        CREATE INDEX command_events_by_guild ON command_events(guild_id, at);
        """,
    ),
    (
        9,
        "feedback: a user's correction of a /tone or /digit answer (keyed input hash, answer, label)",
        """
        CREATE TABLE feedback (
            user_key     TEXT NOT NULL,
            service      TEXT NOT NULL,
            input_hash   TEXT NOT NULL,
            model_answer TEXT NOT NULL,
            label        TEXT NOT NULL,
            shared_text  TEXT,
            shared_blob  BLOB,
            at           REAL NOT NULL,
            PRIMARY KEY (user_key, service, input_hash)
        );
        CREATE INDEX feedback_by_time ON feedback(at);
        """,
    ),
]

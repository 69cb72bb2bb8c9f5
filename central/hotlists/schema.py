"""hotlists.sqlite: lists, entries, the alerts they raised and the log of changes, as named
migrations applied in order (`central/databases.py`)."""

MIGRATIONS = [
    (
        "0001_hotlists",
        """
        CREATE TABLE lists (
            list_id      INTEGER PRIMARY KEY,
            name         TEXT NOT NULL,
            owner        TEXT NOT NULL,
            legal_basis  TEXT NOT NULL,
            category     TEXT NOT NULL,
            priority     INTEGER NOT NULL,
            expires_at   TEXT NOT NULL,
            approved_by  TEXT,
            approved_at  TEXT
        );
        CREATE TABLE entries (
            entry_id     INTEGER PRIMARY KEY,
            list_id      INTEGER NOT NULL REFERENCES lists (list_id),
            pattern      TEXT NOT NULL,
            country      TEXT NOT NULL,
            reason       TEXT NOT NULL,
            instructions TEXT NOT NULL,
            expires_at   TEXT NOT NULL
        );
        CREATE TABLE alerts (
            alert_id     INTEGER PRIMARY KEY,
            raised_at    TEXT NOT NULL,
            list_id      INTEGER NOT NULL,
            entry_id     INTEGER NOT NULL,
            priority     INTEGER NOT NULL,
            tolerant     INTEGER NOT NULL,
            camera_id    TEXT NOT NULL,
            seq          INTEGER NOT NULL,
            captured_at  TEXT NOT NULL,
            plate        TEXT NOT NULL,
            country      TEXT NOT NULL,
            crop         BLOB NOT NULL,
            overview     BLOB NOT NULL,
            state        TEXT NOT NULL DEFAULT 'new',
            handled_by   TEXT,
            outcome      TEXT,
            UNIQUE (entry_id, camera_id, seq)
        );
        CREATE TABLE changes (
            id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, what TEXT NOT NULL
        )
        """,
    ),
    (
        "0002_escalation",
        """
        ALTER TABLE alerts ADD COLUMN escalated_at TEXT
        """,
    ),
    (
        "0003_entry_index",
        """
        ALTER TABLE entries ADD COLUMN wildcard INTEGER NOT NULL DEFAULT 0;
        UPDATE entries SET wildcard = (instr(pattern, '?') > 0 OR instr(pattern, '*') > 0);
        CREATE INDEX entries_pattern ON entries (pattern);
        CREATE INDEX entries_wildcard ON entries (wildcard)
        """,
    ),
    (
        "0004_approval_scope",
        """
        ALTER TABLE lists ADD COLUMN approved_until TEXT;
        ALTER TABLE lists ADD COLUMN starts_at TEXT;
        ALTER TABLE lists ADD COLUMN cameras TEXT NOT NULL DEFAULT ''
        """,
    ),
    (
        "0005_alert_assignment",
        """
        ALTER TABLE alerts ADD COLUMN assigned_to TEXT
        """,
    ),
    (
        # Entries added after a list's approval wait for a prosecutor's own approval (#20).
        # Entries already on an approved list were approved with it under the old rule, so
        # they keep that approval; those of a list not yet approved wait for the list.
        "0006_entry_approval",
        """
        ALTER TABLE entries ADD COLUMN approved_by TEXT;
        ALTER TABLE entries ADD COLUMN approved_at TEXT;
        ALTER TABLE entries ADD COLUMN refused_by TEXT;
        ALTER TABLE entries ADD COLUMN refused_at TEXT;
        ALTER TABLE entries ADD COLUMN refusal TEXT;
        ALTER TABLE lists ADD COLUMN refused_by TEXT;
        ALTER TABLE lists ADD COLUMN refused_at TEXT;
        ALTER TABLE lists ADD COLUMN refusal TEXT;
        UPDATE entries SET
            approved_by = (SELECT l.approved_by FROM lists l WHERE l.list_id = entries.list_id),
            approved_at = (SELECT l.approved_at FROM lists l WHERE l.list_id = entries.list_id);
        CREATE INDEX entries_pending ON entries (approved_by)
        """,
    ),
]

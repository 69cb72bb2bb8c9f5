"""hotlists.sqlite: lists, entries, the alerts they raised and the log of changes, as named
migrations applied in order (`central/databases.py`); the two whose SQL PostgreSQL reads
otherwise give both spellings."""

from central.databases import Dialects

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
        Dialects(
            sqlite="""
        ALTER TABLE entries ADD COLUMN wildcard INTEGER NOT NULL DEFAULT 0;
        UPDATE entries SET wildcard = (instr(pattern, '?') > 0 OR instr(pattern, '*') > 0);
        CREATE INDEX entries_pattern ON entries (pattern);
        CREATE INDEX entries_wildcard ON entries (wildcard)
        """,
            # No instr(), and a truth value is no integer.
            postgresql="""
        ALTER TABLE entries ADD COLUMN wildcard BIGINT NOT NULL DEFAULT 0;
        UPDATE entries SET wildcard = CASE WHEN strpos(pattern, '?') > 0
            OR strpos(pattern, '*') > 0 THEN 1 ELSE 0 END;
        CREATE INDEX entries_pattern ON entries (pattern);
        CREATE INDEX entries_wildcard ON entries (wildcard)
        """,
        ),
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
    (
        # One alert per hit (#23): the passes of a listed plate while its alert is open are
        # grouped under that alert, each kept here with its images and location. Existing
        # alerts become one pass each (their images move here, nothing is lost); `changed`
        # orders every change to an alert (from `alert_clock`, which never runs backwards,
        # even when alerts expire), so the live page fetches only what changed.
        "0007_alert_passes",
        Dialects(
            sqlite="""
        CREATE TABLE alert_passes (
            pass_id      INTEGER PRIMARY KEY,
            alert_id     INTEGER NOT NULL REFERENCES alerts (alert_id) ON DELETE CASCADE,
            entry_id     INTEGER NOT NULL,
            received_at  TEXT NOT NULL,
            tolerant     INTEGER NOT NULL,
            camera_id    TEXT NOT NULL,
            seq          INTEGER NOT NULL,
            captured_at  TEXT NOT NULL,
            plate        TEXT NOT NULL,
            country      TEXT NOT NULL,
            lat_e7       INTEGER,
            lon_e7       INTEGER,
            direction    TEXT,
            crop         BLOB NOT NULL,
            overview     BLOB NOT NULL,
            UNIQUE (entry_id, camera_id, seq)
        );
        CREATE INDEX alert_passes_alert ON alert_passes (alert_id, captured_at);
        INSERT INTO alert_passes (alert_id, entry_id, received_at, tolerant, camera_id, seq,
            captured_at, plate, country, crop, overview)
            SELECT alert_id, entry_id, raised_at, tolerant, camera_id, seq, captured_at, plate,
                   country, crop, overview FROM alerts ORDER BY alert_id;
        UPDATE alerts SET crop = x'', overview = x'';
        ALTER TABLE alerts ADD COLUMN changed INTEGER NOT NULL DEFAULT 0;
        UPDATE alerts SET changed = alert_id;
        CREATE TABLE alert_clock (
            one   INTEGER PRIMARY KEY CHECK (one = 1),
            value INTEGER NOT NULL
        );
        INSERT INTO alert_clock VALUES (1, (SELECT coalesce(max(alert_id), 0) FROM alerts));
        CREATE INDEX alerts_changed ON alerts (changed);
        CREATE INDEX alerts_open ON alerts (entry_id, state)
        """,
            # x'' is a bit string in PostgreSQL: an empty bytea is spelled ''::bytea.
            postgresql="""
        CREATE TABLE alert_passes (
            pass_id      BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            alert_id     BIGINT NOT NULL REFERENCES alerts (alert_id) ON DELETE CASCADE,
            entry_id     BIGINT NOT NULL,
            received_at  TEXT COLLATE "C" NOT NULL,
            tolerant     BIGINT NOT NULL,
            camera_id    TEXT COLLATE "C" NOT NULL,
            seq          BIGINT NOT NULL,
            captured_at  TEXT COLLATE "C" NOT NULL,
            plate        TEXT COLLATE "C" NOT NULL,
            country      TEXT COLLATE "C" NOT NULL,
            lat_e7       BIGINT,
            lon_e7       BIGINT,
            direction    TEXT COLLATE "C",
            crop         BYTEA NOT NULL,
            overview     BYTEA NOT NULL,
            UNIQUE (entry_id, camera_id, seq)
        );
        CREATE INDEX alert_passes_alert ON alert_passes (alert_id, captured_at);
        INSERT INTO alert_passes (alert_id, entry_id, received_at, tolerant, camera_id, seq,
            captured_at, plate, country, crop, overview)
            SELECT alert_id, entry_id, raised_at, tolerant, camera_id, seq, captured_at, plate,
                   country, crop, overview FROM alerts ORDER BY alert_id;
        UPDATE alerts SET crop = ''::bytea, overview = ''::bytea;
        ALTER TABLE alerts ADD COLUMN changed BIGINT NOT NULL DEFAULT 0;
        UPDATE alerts SET changed = alert_id;
        CREATE TABLE alert_clock (
            one   BIGINT PRIMARY KEY CHECK (one = 1),
            value BIGINT NOT NULL
        );
        INSERT INTO alert_clock VALUES (1, (SELECT coalesce(max(alert_id), 0) FROM alerts));
        CREATE INDEX alerts_changed ON alerts (changed);
        CREATE INDEX alerts_open ON alerts (entry_id, state)
        """,
        ),
    ),
    (
        # The clock's value at the last expiry: a live desk that saw the clock before it
        # reloads, so expired alerts and passes leave open pages too.
        "0008_alert_expiry_mark",
        """
        ALTER TABLE alert_clock ADD COLUMN expired_at INTEGER NOT NULL DEFAULT 0
        """,
    ),
]

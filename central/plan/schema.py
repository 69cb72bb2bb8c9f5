"""Tables of the camera plan (plan.sqlite; schema `plan` on PostgreSQL)."""

from central.databases import Dialects

MIGRATIONS = [
    (
        "0001_plan",
        """
        CREATE TABLE versions (
            year          INTEGER PRIMARY KEY,
            state         TEXT NOT NULL CHECK (state IN ('draft', 'ratified', 'published')),
            drafted_by    TEXT NOT NULL,
            drafted_at    TEXT NOT NULL,
            ratified_by   TEXT,
            ratified_at   TEXT,
            published_at  TEXT
        );
        CREATE TABLE locations (
            location_id  TEXT PRIMARY KEY,
            name         TEXT NOT NULL,
            road         TEXT NOT NULL,
            lat_e7       INTEGER NOT NULL,
            lon_e7       INTEGER NOT NULL
        );
        CREATE TABLE sections (
            section_id   TEXT PRIMARY KEY,
            location_id  TEXT NOT NULL REFERENCES locations (location_id),
            name         TEXT NOT NULL,
            direction    TEXT NOT NULL
        );
        CREATE TABLE entries (
            year         INTEGER NOT NULL REFERENCES versions (year),
            camera_id    TEXT NOT NULL,
            kind         TEXT NOT NULL CHECK (kind IN ('fixed', 'mobile', 'third_party')),
            owner        TEXT NOT NULL,
            controller   TEXT NOT NULL,
            section_id   TEXT REFERENCES sections (section_id),
            lat_e7       INTEGER NOT NULL,
            lon_e7       INTEGER NOT NULL,
            road         TEXT NOT NULL,
            direction    TEXT NOT NULL,
            lane         INTEGER NOT NULL,
            criterion    TEXT NOT NULL CHECK (criterion IN ('a', 'b', 'c')),
            motivation   TEXT NOT NULL,
            signed_by    TEXT,
            signed_at    TEXT,
            PRIMARY KEY (year, camera_id)
        );
        CREATE TABLE statuses (
            id         INTEGER PRIMARY KEY,
            camera_id  TEXT NOT NULL,
            status     TEXT NOT NULL
                CHECK (status IN ('planned', 'active', 'suspended', 'retired')),
            valid_from TEXT NOT NULL,
            reason     TEXT NOT NULL
        );
        CREATE TABLE acceptance_tests (
            id         INTEGER PRIMARY KEY,
            camera_id  TEXT NOT NULL,
            tested_at  TEXT NOT NULL,
            reads      INTEGER NOT NULL,
            correct    INTEGER NOT NULL,
            passed     INTEGER NOT NULL,
            tested_by  TEXT NOT NULL
        );
        CREATE TABLE deployments (
            id          INTEGER PRIMARY KEY,
            year        INTEGER NOT NULL,
            camera_id   TEXT NOT NULL,
            place       TEXT NOT NULL,
            place_kind  TEXT NOT NULL,
            lat_e7      INTEGER NOT NULL,
            lon_e7      INTEGER NOT NULL,
            starts_at   TEXT NOT NULL,
            ends_at     TEXT NOT NULL,
            reason      TEXT NOT NULL
        );
        CREATE TABLE changes (
            id     INTEGER PRIMARY KEY,
            at     TEXT NOT NULL,
            actor  TEXT NOT NULL,
            what   TEXT NOT NULL
        )
        """,
    ),
    (
        # Signatures by accounts (#20): the signer's account and full name, the digest of the
        # motivation signed, and who added the entry (who may therefore not sign it).
        "0002_account_signatures",
        Dialects(
            sqlite="""
        ALTER TABLE entries ADD COLUMN added_by TEXT NOT NULL DEFAULT '';
        ALTER TABLE entries ADD COLUMN signer_name TEXT;
        ALTER TABLE entries ADD COLUMN motivation_sha256 TEXT;
        CREATE TRIGGER entries_signed_motivation_stays BEFORE UPDATE OF motivation ON entries
            WHEN OLD.signed_by IS NOT NULL AND NEW.signed_by IS NOT NULL
            BEGIN SELECT RAISE(ABORT, 'a signed motivation cannot change; revise it'); END;
        CREATE TRIGGER entries_fixed_after_draft BEFORE UPDATE ON entries
            WHEN (SELECT state FROM versions WHERE year = OLD.year) != 'draft'
            BEGIN SELECT RAISE(ABORT, 'entries of a ratified plan cannot change'); END;
        CREATE TRIGGER entries_kept_after_draft BEFORE DELETE ON entries
            WHEN (SELECT state FROM versions WHERE year = OLD.year) != 'draft'
            BEGIN SELECT RAISE(ABORT, 'entries of a ratified plan cannot change'); END
        """,
            # The same rules in plpgsql (#21). A trigger's WHEN cannot hold a subquery there,
            # so the version's state is read in the function. The errors are integrity
            # violations, as SQLite's RAISE(ABORT) is. TRUNCATE skips row triggers: it is
            # refused as DELETE is while a ratified plan's entries are in the table.
            postgresql="""
        ALTER TABLE entries ADD COLUMN added_by TEXT COLLATE "C" NOT NULL DEFAULT '';
        ALTER TABLE entries ADD COLUMN signer_name TEXT COLLATE "C";
        ALTER TABLE entries ADD COLUMN motivation_sha256 TEXT COLLATE "C";
        CREATE FUNCTION entries_signed_motivation_stays() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'a signed motivation cannot change; revise it'
                USING ERRCODE = 'restrict_violation';
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER entries_signed_motivation_stays BEFORE UPDATE OF motivation ON entries
            FOR EACH ROW WHEN (OLD.signed_by IS NOT NULL AND NEW.signed_by IS NOT NULL)
            EXECUTE FUNCTION entries_signed_motivation_stays();
        CREATE FUNCTION entries_fixed_after_draft() RETURNS trigger AS $$
        BEGIN
            IF (SELECT state FROM versions WHERE year = OLD.year) != 'draft' THEN
                RAISE EXCEPTION 'entries of a ratified plan cannot change'
                    USING ERRCODE = 'restrict_violation';
            END IF;
            RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER entries_fixed_after_draft BEFORE UPDATE ON entries
            FOR EACH ROW EXECUTE FUNCTION entries_fixed_after_draft();
        CREATE TRIGGER entries_kept_after_draft BEFORE DELETE ON entries
            FOR EACH ROW EXECUTE FUNCTION entries_fixed_after_draft();
        CREATE FUNCTION entries_not_truncated() RETURNS trigger AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM entries JOIN versions USING (year)
                       WHERE versions.state != 'draft') THEN
                RAISE EXCEPTION 'entries of a ratified plan cannot change'
                    USING ERRCODE = 'restrict_violation';
            END IF;
            RETURN NULL;
        END $$ LANGUAGE plpgsql;
        CREATE TRIGGER entries_not_truncated BEFORE TRUNCATE ON entries
            FOR EACH STATEMENT EXECUTE FUNCTION entries_not_truncated();
        """,
        ),
    ),
    (
        # Commissioning reports (#22): signed by the unit on site, verified at receipt and
        # kept as signed (canonical bytes, signature, aim snapshot) beside the plan entry.
        "0003_commissioning_reports",
        """
        CREATE TABLE commissioning_reports (
            id           INTEGER PRIMARY KEY,
            camera_id    TEXT NOT NULL,
            key_id       TEXT NOT NULL,
            report_id    INTEGER NOT NULL,
            made_at      TEXT NOT NULL,
            received_at  TEXT NOT NULL,
            verdict      TEXT NOT NULL CHECK (verdict IN ('pass', 'warn', 'fail')),
            canonical    BLOB NOT NULL,
            signature    BLOB NOT NULL,
            snapshot     BLOB NOT NULL,
            UNIQUE (camera_id, key_id, report_id)
        );
        CREATE INDEX commissioning_reports_by_camera
            ON commissioning_reports (camera_id, made_at)
        """,
    ),
]

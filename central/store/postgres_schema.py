"""The passage tables on PostgreSQL: one list partition per UTC day of each, so that expiry
drops whole partitions (no row-by-row delete, no vacuum debt), and what a partition holds
that is personal is sealed under the day's key (central/store/daykeys.py).

Plain in the rows: camera, sequence number, capture and receive times, place, direction,
lane and confidence (with the plate gone these say only that *a* vehicle passed). Sealed
with AES-256-GCM under the day key: the plate, its country and the record digest
(`sealed`), the signed record with its signature, and the images. `plate_bucket` is a keyed
hash of the plate under a key derived from the day key, cut to BUCKET_BITS bits: an exact
plate search probes one bucket a day and opens its rows. At national volume a bucket holds
hundreds of passages a day, so the column links no passage to one vehicle, across cameras or not,
with the key or after it is destroyed.
"""

from __future__ import annotations

from datetime import date

# 16,384 buckets a day: at 1 million passages a day ~60 rows each (a search opens 60 x 28),
# at the Dutch network's 4.3 million ~260; fewer bits hide more vehicles in a bucket and
# cost more rows a search (12 bits: p95 above 50 ms at 28 x 500,000); docs/scaling.md.
BUCKET_BITS = 14

# Made once per database (IF NOT EXISTS: every node runs it at start, under a lock).
SCHEMA = """
CREATE TABLE IF NOT EXISTS passages (
    day            date    NOT NULL,
    camera_id      text    NOT NULL,
    seq            bigint  NOT NULL,
    captured_at    text    NOT NULL,
    received_at    text    NOT NULL,
    confidence_pm  integer NOT NULL,
    lat_e7         integer NOT NULL,
    lon_e7         integer NOT NULL,
    direction      text    NOT NULL,
    lane           integer NOT NULL,
    record_sha256  text    NOT NULL,
    plate_bucket   integer NOT NULL,
    sealed         bytea   NOT NULL,
    PRIMARY KEY (day, camera_id, seq)
) PARTITION BY LIST (day);
CREATE INDEX IF NOT EXISTS passages_by_key ON passages (camera_id, seq);
CREATE INDEX IF NOT EXISTS passages_by_bucket ON passages (plate_bucket, captured_at);
CREATE INDEX IF NOT EXISTS passages_by_camera_time ON passages (camera_id, captured_at);
CREATE INDEX IF NOT EXISTS passages_by_time ON passages (captured_at);
CREATE TABLE IF NOT EXISTS passage_records (
    day        date   NOT NULL,
    camera_id  text   NOT NULL,
    seq        bigint NOT NULL,
    sealed     bytea  NOT NULL,
    PRIMARY KEY (day, camera_id, seq)
) PARTITION BY LIST (day);
CREATE TABLE IF NOT EXISTS passage_images (
    day        date   NOT NULL,
    camera_id  text   NOT NULL,
    seq        bigint NOT NULL,
    crop       bytea  NOT NULL,
    overview   bytea  NOT NULL,
    PRIMARY KEY (day, camera_id, seq)
) PARTITION BY LIST (day);
-- Sealed bytes do not compress: TOAST stores them out of line without trying.
ALTER TABLE passage_records ALTER COLUMN sealed SET STORAGE EXTERNAL;
ALTER TABLE passage_images ALTER COLUMN crop SET STORAGE EXTERNAL,
    ALTER COLUMN overview SET STORAGE EXTERNAL;
CREATE TABLE IF NOT EXISTS passage_verdicts (
    day          date   NOT NULL,
    id           bigserial,
    camera_id    text   NOT NULL,
    seq          bigint NOT NULL,
    verdict      text   NOT NULL CHECK (verdict IN ('correct', 'wrong')),
    verified_by  text   NOT NULL,
    verified_at  text   NOT NULL,
    note         text   NOT NULL DEFAULT ''
) PARTITION BY LIST (day);
-- The days that have partitions: a search lists them in one small read.
CREATE TABLE IF NOT EXISTS passage_days (day date PRIMARY KEY);
CREATE OR REPLACE FUNCTION anpr_reads_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'stored % are never changed: annotate a read with a verdict',
        TG_TABLE_NAME;
END $$ LANGUAGE plpgsql;
"""

DAY_TABLES = ("passages", "passage_records", "passage_images", "passage_verdicts")
# Reads cannot be edited (the decree's integrity rule), only annotated; retention drops.
_IMMUTABLE = """
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{table}_no_update') THEN
        CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
            FOR EACH ROW EXECUTE FUNCTION anpr_reads_immutable();
    END IF;
END $$;
"""
IMMUTABLE = "".join(_IMMUTABLE.format(table=table) for table in DAY_TABLES)
# Every node may make partitions; one lock id keeps two from racing on the same one.
PARTITION_LOCK = 0x616E7072  # "anpr"


def partition_name(table: str, day: date) -> str:
    return f"{table}_{day:%Y%m%d}"


def create_partitions(day: date) -> str:
    """SQL making the day's partition of each table (nothing when it exists)."""
    return (
        "".join(
            f"CREATE TABLE IF NOT EXISTS {partition_name(table, day)} PARTITION OF {table} "
            f"FOR VALUES IN ('{day.isoformat()}');\n"
            for table in DAY_TABLES
        )
        + f"INSERT INTO passage_days VALUES ('{day.isoformat()}') ON CONFLICT DO NOTHING;\n"
    )


def drop_partitions(day: date) -> str:
    return (
        "".join(f"DROP TABLE IF EXISTS {partition_name(table, day)};\n" for table in DAY_TABLES)
        + f"DELETE FROM passage_days WHERE day = '{day.isoformat()}';\n"
    )

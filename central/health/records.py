"""What camera health is judged on, and what it concluded: health.sqlite.

Latest signed heartbeat per camera, which hours brought a heartbeat (for the daily
"hours down" figure), passages and summed read confidence per camera and hour (plate-free,
for "read quality down" and "far below its usual level for that hour of the week"), and
every change of state with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from central.databases import StoreLocation, open_database
from wire import Heartbeat
from wire.fields import format_timestamp

MIGRATIONS = [
    (
        "0001_health",
        """
        CREATE TABLE heartbeats (
            camera_id   TEXT PRIMARY KEY,
            sent_at     TEXT NOT NULL,
            received_at TEXT NOT NULL,
            record      TEXT NOT NULL
        );
        CREATE TABLE heartbeat_hours (
            camera_id TEXT NOT NULL,
            hour      TEXT NOT NULL,
            PRIMARY KEY (camera_id, hour)
        ) WITHOUT ROWID;
        CREATE TABLE passage_hours (
            camera_id       TEXT NOT NULL,
            hour            TEXT NOT NULL,
            passages        INTEGER NOT NULL,
            confidence_sum  INTEGER NOT NULL,
            PRIMARY KEY (camera_id, hour)
        ) WITHOUT ROWID;
        CREATE TABLE health_changes (
            id         INTEGER PRIMARY KEY,
            camera_id  TEXT NOT NULL,
            at         TEXT NOT NULL,
            state      TEXT NOT NULL,
            reasons    TEXT NOT NULL
        );
        CREATE INDEX health_changes_camera ON health_changes (camera_id, id)
        """,
    ),
]


def hour_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


@dataclass(frozen=True)
class Traffic:
    """Passages in the last complete hour, and the usual count for that hour of the week."""

    passages: int
    mean_confidence: float | None
    usual: float | None


class HealthRecords:
    def __init__(self, path: StoreLocation) -> None:
        self.db = open_database(path, MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def record_heartbeat(self, heartbeat: Heartbeat, canonical: bytes, now: datetime) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO heartbeat_hours (camera_id, hour) VALUES (?, ?)",
            (heartbeat.camera_id, hour_key(now)),
        )
        self.db.execute(
            "INSERT INTO heartbeats (camera_id, sent_at, received_at, record) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (camera_id) DO UPDATE SET sent_at = excluded.sent_at, "
            "received_at = excluded.received_at, record = excluded.record "
            "WHERE excluded.sent_at > heartbeats.sent_at",
            (
                heartbeat.camera_id,
                format_timestamp(heartbeat.sent_at),
                format_timestamp(now),
                canonical.decode("ascii"),
            ),
        )

    def last_heartbeat(self, camera_id: str) -> dict | None:
        row = self.db.execute(
            "SELECT sent_at, received_at, record FROM heartbeats WHERE camera_id = ?",
            (camera_id,),
        ).fetchone()
        if row is None:
            return None
        return {"sent_at": row[0], "received_at": row[1], "record": row[2]}

    def heartbeat_hours(self, day: date) -> dict[str, int]:
        """Per camera, how many hours of this UTC day brought at least one heartbeat."""
        # A range of hour keys, not LIKE: the same bytes compared on both backends (LIKE
        # ignores case in SQLite and not in PostgreSQL).
        rows = self.db.execute(
            "SELECT camera_id, count(*) FROM heartbeat_hours WHERE hour >= ? AND hour < ? "
            "GROUP BY camera_id",
            (day.isoformat(), (day + timedelta(days=1)).isoformat()),
        )
        return dict(rows.fetchall())

    def count_passages(self, counts: Iterable[tuple[str, str, int, int]]) -> None:
        """Add (camera, hour, passages, confidence sum) to the hourly figures.

        One transaction for the lot: in autocommit mode each row would cost an fsync.
        """
        rows = list(counts)
        if not rows:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(
                "INSERT INTO passage_hours VALUES (?, ?, ?, ?) ON CONFLICT (camera_id, hour) "
                "DO UPDATE SET passages = passage_hours.passages + excluded.passages, "
                "confidence_sum = passage_hours.confidence_sum + excluded.confidence_sum",
                rows,
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def traffic(self, camera_id: str, now: datetime, weeks: int = 4) -> Traffic:
        last_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(
            hours=1
        )
        row = self.db.execute(
            "SELECT passages, confidence_sum FROM passage_hours WHERE camera_id = ? AND hour = ?",
            (camera_id, hour_key(last_hour)),
        ).fetchone()
        passages, confidence = row if row else (0, 0)
        earlier = [hour_key(last_hour - timedelta(weeks=w)) for w in range(1, weeks + 1)]
        history = [
            r[0]
            for r in self.db.execute(
                f"SELECT passages FROM passage_hours WHERE camera_id = ? AND hour IN "
                f"({', '.join('?' * len(earlier))})",
                (camera_id, *earlier),
            )
        ]
        usual = sorted(history)[len(history) // 2] if len(history) >= 2 else None
        mean = confidence / passages / 1000 if passages else None
        return Traffic(passages, mean, usual)

    def health_change(self, camera_id: str, at: datetime, state: str, reasons: str) -> None:
        self.db.execute(
            "INSERT INTO health_changes (camera_id, at, state, reasons) VALUES (?, ?, ?, ?)",
            (camera_id, format_timestamp(at), state, reasons),
        )

    def states_during(self, camera_id: str, start: datetime, end: datetime) -> list[dict]:
        """The state in force at `start` (if any was ever recorded) and each change until
        `end`, oldest first."""
        since, until = format_timestamp(start), format_timestamp(end)
        before = self.db.execute(
            "SELECT at, state, reasons FROM health_changes WHERE camera_id = ? AND at <= ? "
            "ORDER BY at DESC, id DESC LIMIT 1",
            (camera_id, since),
        ).fetchall()
        during = self.db.execute(
            "SELECT at, state, reasons FROM health_changes WHERE camera_id = ? AND at > ? "
            "AND at < ? ORDER BY at, id",
            (camera_id, since, until),
        ).fetchall()
        return [{"at": r[0], "state": r[1], "reasons": r[2]} for r in before + during]

    def health_history(self, camera_id: str, limit: int = 50) -> list[dict]:
        rows = self.db.execute(
            "SELECT at, state, reasons FROM health_changes WHERE camera_id = ? "
            "ORDER BY id DESC LIMIT ?",
            (camera_id, limit),
        )
        return [{"at": r[0], "state": r[1], "reasons": r[2]} for r in rows]

    # --- history, for the charts (#23) --------------------------------------------------

    def passages_by_hour(self, camera_id: str, start: datetime, end: datetime) -> dict[str, tuple]:
        """{hour key: (passages, confidence sum)} of one camera, hours from `start` to `end`."""
        rows = self.db.execute(
            "SELECT hour, passages, confidence_sum FROM passage_hours WHERE camera_id = ? "
            "AND hour >= ? AND hour < ? ORDER BY hour",
            (camera_id, hour_key(start), hour_key(end)),
        )
        return {hour: (passages, confidence) for hour, passages, confidence in rows}

    def heartbeat_hours_between(self, camera_id: str, start: datetime, end: datetime) -> set[str]:
        """The hour keys from `start` to `end` in which this camera sent a heartbeat."""
        rows = self.db.execute(
            "SELECT hour FROM heartbeat_hours WHERE camera_id = ? AND hour >= ? AND hour < ?",
            (camera_id, hour_key(start), hour_key(end)),
        )
        return {r[0] for r in rows}

    def passages_by_camera_day(self, start: date, end: date) -> dict[tuple[str, str], tuple]:
        """{(camera, UTC day): (passages, confidence sum)} for the days from `start` up to
        (not including) `end`, every camera that counted a passage."""
        rows = self.db.execute(
            "SELECT camera_id, substr(hour, 1, 10), sum(passages), sum(confidence_sum) "
            "FROM passage_hours WHERE hour >= ? AND hour < ? "
            "GROUP BY camera_id, substr(hour, 1, 10)",
            (start.isoformat(), end.isoformat()),
        )
        return {(camera, day): (passages, confidence) for camera, day, passages, confidence in rows}

    def changes_until(self, end: datetime) -> list[dict]:
        """Every recorded change of state before `end`, oldest first, all cameras."""
        rows = self.db.execute(
            "SELECT camera_id, at, state FROM health_changes WHERE at < ? ORDER BY at, id",
            (format_timestamp(end),),
        )
        return [{"camera_id": r[0], "at": r[1], "state": r[2]} for r in rows]

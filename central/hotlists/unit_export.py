"""Hotlists for matching on a unit: the exact entries that apply to one camera, as slow
salted hashes under that unit's key, each entry also under its near spellings (see
`wire/unit_hotlist.py` for why and how).

Each digest costs an Argon2id (~16 ms), so the service's pusher keeps the digests it made
and hashes only entries it has not seen; a one-off export pays for every entry.

Left out, on purpose: wildcard entries (a hash matches one spelling only; the central
still matches them when the passage arrives), investigation lists (their hits are for the
owner, not for a roadside unit), lists not approved, entries waiting for a prosecutor's
approval, expired or scoped to other cameras.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from central.databases import StoreLocation
from central.hotlists.lists import LIVE, LIVE_UNTIL, Hotlists
from wire import SigningKey
from wire.fields import format_timestamp
from wire.unit_hotlist import (
    HashedEntry,
    UnitHotlist,
    derive_unit_key,
    encode_unit_hotlist,
    plate_digest,
    unit_entries,
)

MIN_MASTER_KEY = 32


class UnitExportError(Exception):
    """A unit hotlist cannot be made as asked."""


def read_master_key(path: Path) -> bytes:
    try:
        master = path.read_bytes().strip()
    except OSError as exc:
        raise UnitExportError(f"cannot read the unit-hotlist master key {path}: "
                              f"{exc.strerror}") from None  # fmt: skip
    if len(master) < MIN_MASTER_KEY:
        raise UnitExportError(f"master key {path} is shorter than {MIN_MASTER_KEY} bytes")
    return master


def unit_hotlist(
    store: Hotlists, camera_id: str, unit_key: bytes, now: datetime,
    digest: Callable[[bytes, str], str] = plate_digest,
) -> UnitHotlist:  # fmt: skip
    """The list for `camera_id` as of `now`; `digest` may be a cache over `plate_digest`."""
    moment = format_timestamp(now)
    rows = store.db.execute(
        f"SELECT e.entry_id, e.pattern, e.country, l.priority, {LIVE_UNTIL}, l.cameras "
        "FROM entries e JOIN lists l USING (list_id) "
        f"WHERE {LIVE} AND e.wildcard = 0 AND l.category != 'investigation' "
        f"AND {LIVE_UNTIL} > ? "
        "AND coalesce(l.starts_at, '') <= ? ORDER BY e.entry_id",
        (moment, moment),
    ).fetchall()
    entries: list[HashedEntry] = []
    for entry_id, pattern, country, priority, expires, cameras in rows:
        if not cameras or camera_id in cameras.split(","):
            entries += unit_entries(unit_key, pattern, entry_id, priority, country,
                                    datetime.fromisoformat(expires), digest)  # fmt: skip
    return UnitHotlist(camera_id, now, tuple(entries))


class DigestCache:
    """The digests one pass of the pusher made, kept for the next: a list that gains one
    entry costs one entry's Argon2id, not the whole list's. Digests no longer used are
    dropped after each pass (`keep_used`), so the cache holds no plate off every list."""

    def __init__(self) -> None:
        self._digests: dict[tuple[bytes, str], str] = {}
        self._used: set[tuple[bytes, str]] = set()

    def __call__(self, unit_key: bytes, plate: str) -> str:
        key = (unit_key, plate)
        self._used.add(key)
        if key not in self._digests:
            self._digests[key] = plate_digest(unit_key, plate)
        return self._digests[key]

    def keep_used(self) -> None:
        self._digests = {k: v for k, v in self._digests.items() if k in self._used}
        self._used = set()


def push_to_unit(mqtt_config, camera_id: str, data: bytes, timeout_s: float = 10.0) -> None:
    """Publish the signed list retained on the unit's hotlist topic: the unit gets it now,
    or when it next connects. Its own MQTT session (the ingest's session is not touched)."""

    import paho.mqtt.client as mqtt

    from node.tls import configure_tls
    from wire.topics import hotlist_topic

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                         client_id=f"anpr-central-hotlist-{camera_id}")  # fmt: skip
    configure_tls(client, mqtt_config)
    try:
        client.connect(mqtt_config.host, mqtt_config.port, mqtt_config.keepalive_s)
        client.loop_start()
        info = client.publish(hotlist_topic(camera_id), data, qos=1, retain=True)
        info.wait_for_publish(timeout_s)
        if not info.is_published():
            raise UnitExportError(f"the broker did not take the list within {timeout_s:g} s")
    except OSError as exc:
        raise UnitExportError(
            f"cannot reach the broker at {mqtt_config.host}:{mqtt_config.port}: {exc}"
        ) from None
    finally:
        client.disconnect()
        client.loop_stop()


def export_for_unit(
    store: Hotlists, camera_id: str, master: bytes, signing_key: SigningKey, now: datetime
) -> tuple[bytes, int]:
    """The signed document for `camera_id`, and how many listed plates it carries (each
    with its near spellings)."""
    hotlist = unit_hotlist(store, camera_id, derive_unit_key(master, camera_id), now)
    return encode_unit_hotlist(hotlist, signing_key), len({e.ref for e in hotlist.entries})


class UnitPusher:
    """Pushes each matching unit its list whenever the entries it would carry change (the
    service runs it every minute), so a new stolen-car entry reaches a unit with its link
    about to go down without anyone running `hotlist-unit-push`."""

    def __init__(
        self, hotlists_path: StoreLocation, cameras: tuple[str, ...], master: bytes,
        signing_key: SigningKey, publish,
    ) -> None:  # fmt: skip
        self.hotlists_path, self.cameras, self.master = hotlists_path, cameras, master
        self.signing_key, self.publish = signing_key, publish
        self._sent: dict[str, tuple] = {}
        self._digests = DigestCache()

    def run_once(self, now: datetime) -> list[str]:
        """The cameras pushed this time."""
        from wire.topics import hotlist_topic

        store = Hotlists(self.hotlists_path)
        pushed = []
        try:
            for camera_id in self.cameras:
                unit_key = derive_unit_key(self.master, camera_id)
                hotlist = unit_hotlist(store, camera_id, unit_key, now, self._digests)
                if self._sent.get(camera_id) == hotlist.entries:
                    continue
                document = encode_unit_hotlist(hotlist, self.signing_key)
                self.publish(hotlist_topic(camera_id), document)
                self._sent[camera_id] = hotlist.entries
                pushed.append(camera_id)
            self._digests.keep_used()
        finally:
            store.close()
        return pushed

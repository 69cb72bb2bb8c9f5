"""The two stages of ingest, each with its own database handles and thread.

`Admission` turns a batch of MQTT messages into verified passages worth storing (decode,
signature, plan, age) and records heartbeats and refusals. `Storage` writes them durably and
decides per record: stored, duplicate, or conflicting. Running them in two threads lets one
batch be verified while the previous one is written (SQLite and OpenSSL release the GIL).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from central.accounts.users import Accounts
from central.cameras import Camera, CameraRegistry
from central.config import CentralConfig
from central.expiry import cutoff
from central.health.records import HealthRecords, hour_key
from central.ingest.admission import admit_heartbeat, check_skew
from central.ingest.broker_reports import record_refused_publish
from central.ingest.commissioning import admit_report
from central.ingest.pool import VerifyPool, open_and_verify
from central.ingest.refusal import Refusal
from central.ingest.rejections import RejectionLog
from central.plan.commissioning import CommissioningReports
from central.store import Outcome, open_store
from central.tally import Ledger, Tally
from node.keyfiles import load_sealing_key
from wire import Passage, Rejection, Verified
from wire.errors import WireError
from wire.fields import format_timestamp
from wire.topics import REFUSED_PUBLISH, camera_of, kind_of, passage_topic

log = logging.getLogger("central.ingest.service")


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    mid: int
    qos: int


@dataclass
class AckPlan:
    """Per camera: sequence numbers to acknowledge and those refused, for one batch."""

    seqs: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    refused: dict[str, list[Rejection]] = field(default_factory=lambda: defaultdict(list))
    selftests: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))


@dataclass
class AdmittedBatch:
    messages: list[Incoming]
    to_store: list[Verified[Passage]]
    plan: AckPlan
    at: datetime
    admitted: list[Verified[Passage]] = field(default_factory=list)


def record_refusal(
    rejections: RejectionLog,
    counters: Tally,
    topic: str,
    refused: Refusal,
    now: datetime,
) -> None:
    counters.add("rejected", label=refused.reason)
    log.warning(
        "ingest: rejected topic=%s camera=%s seq=%s reason=%s detail=%s",
        topic, refused.camera_id, refused.seq, refused.reason, refused.detail,
    )  # fmt: skip
    rejections.record(now, topic, refused.camera_id, refused.seq, refused.reason, refused.detail)


class BatchCameras:
    """The camera registry as one batch sees it: the batch's cameras, their active keys
    and plan periods read in three queries for the whole batch, not per passage (on
    PostgreSQL a read is a round trip: per passage they cost more than the signature
    checks). A key added or retired, or a plan change, counts from the next batch, tens of
    milliseconds later."""

    def __init__(self, registry: CameraRegistry, camera_ids: list[str] = ()) -> None:
        self.registry = registry
        self._cameras: dict[str, Camera | None] = {}
        self._periods: dict[str, list[tuple[str, str | None]]] = {}
        if camera_ids:
            found = registry.get_many(camera_ids)
            self._cameras = {camera_id: found.get(camera_id) for camera_id in camera_ids}
            self._periods = registry.periods_many(camera_ids)

    def get(self, camera_id: str) -> Camera | None:
        if camera_id not in self._cameras:
            self._cameras[camera_id] = self.registry.get(camera_id)
        return self._cameras[camera_id]

    def designated(self, camera_id: str, at: datetime) -> bool:
        """As `CameraRegistry.designated`, from the periods read once."""
        periods = self._periods.get(camera_id)
        if periods is None:
            periods = self._periods[camera_id] = self.registry.periods_many([camera_id])[camera_id]
        moment = format_timestamp(at)
        return any(start <= moment and (until is None or until > moment)
                   for start, until in periods)  # fmt: skip


def _cameras_of(messages: list[Incoming]) -> list[str]:
    found = set()
    for item in messages:
        try:
            found.add(camera_of(item.topic))
        except WireError:
            continue  # refused when its turn comes
    return sorted(found)


class Admission:
    def __init__(
        self,
        config: CentralConfig,
        counters: Tally,
        listeners: list[Callable[[Verified[Passage]], None]],
        batch_listeners: list[Callable[[list[Verified[Passage]]], None]] | None = None,
    ) -> None:
        self.skew = timedelta(seconds=config.ingest.max_future_skew_s)
        self.counters = counters
        self.listeners = listeners
        self.batch_listeners = batch_listeners if batch_listeners is not None else []
        self.registry = CameraRegistry(config.cameras_path)
        self.cameras = BatchCameras(self.registry)
        self.health = HealthRecords(config.health_path)
        seal_file = config.secrets.seal_key_file
        self.seal_key = load_sealing_key(seal_file) if seal_file else None
        workers = config.ingest.verify_workers
        self.accept_unsealed = config.ingest.accept_unsealed
        self.pool = VerifyPool(workers, seal_file, self.accept_unsealed) if workers else None
        self.rejections = RejectionLog(config.rejections_path)
        self.accounts_path, self.accounts = config.accounts_path, None
        self.plan_path, self.reports = config.plan_path, None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        self.registry.close()
        self.health.close()
        self.rejections.close()
        if self.accounts is not None:
            self.accounts.close()
        if self.reports is not None:
            self.reports.close()

    def _commissioning(self) -> CommissioningReports:
        """Opened on the first commissioning report: a unit sends one on site, rarely."""
        if self.reports is None:
            self.reports = CommissioningReports(self.plan_path)
        return self.reports

    def _accounts(self) -> Accounts:
        """Opened on the first broker report: most ingests never see one."""
        if self.accounts is None:
            self.accounts = Accounts(self.accounts_path)
        return self.accounts

    def admit(self, messages: list[Incoming], now: datetime) -> AdmittedBatch:
        batch = AdmittedBatch(messages, [], AckPlan(), now)
        self.cameras = BatchCameras(self.registry, _cameras_of(messages))
        verified_in_pool = self._verify_in_pool(messages)
        for item in messages:
            try:
                refusal = self._admit_one(item, batch, verified_in_pool)
            except Exception as exc:  # noqa: BLE001 - one bad message must not stall the batch
                log.exception("ingest: unexpected error admitting topic=%s", item.topic)
                refusal = Refusal("malformed", f"record could not be read ({type(exc).__name__})")
            if refusal is not None:
                self._refuse(item.topic, refusal, batch)
        self._count(batch.admitted)
        if batch.admitted:
            for batch_listener in self.batch_listeners:
                batch_listener(batch.admitted)
        return batch

    def _admit_one(
        self, item: Incoming, batch: AdmittedBatch, from_pool: dict[int, object]
    ) -> Refusal | None:
        if item.topic == REFUSED_PUBLISH:
            if record_refused_publish(self._accounts(), item.payload, batch.at):
                self.counters.add("refused_publishes")
            return None
        try:
            topic_camera = camera_of(item.topic)
        except WireError as exc:
            return Refusal.of(exc)
        kind = kind_of(item.topic)
        if kind in ("passage", "selftest"):
            verified = self._passage(item, topic_camera, batch.at, from_pool)
            if isinstance(verified, Refusal):
                return verified
            if kind == "passage":
                self._route(verified, batch)
            else:  # verified like a passage, answered, never stored nor matched
                batch.plan.selftests[topic_camera].append(verified.record.seq)
                self.counters.add("selftests")
        elif kind == "commissioning":  # kept with the plan entry, answered like a self-test
            report = admit_report(item.payload, topic_camera, self.cameras.get(topic_camera))
            if isinstance(report, Refusal):
                return report
            self._commissioning().keep(report, batch.at)
            batch.plan.selftests[topic_camera].append(report.record.report_id)
            self.counters.add("commissioning_reports")
        elif kind == "heartbeat":
            heartbeat = admit_heartbeat(item.payload, topic_camera, self.cameras)
            if isinstance(heartbeat, Refusal):
                return heartbeat
            self.health.record_heartbeat(heartbeat.record, heartbeat.canonical, batch.at)
            self.counters.add("heartbeats")
        return None

    def _count(self, admitted: list[Verified[Passage]]) -> None:
        """Plate-free hourly figures per camera, for health (volume and read quality)."""
        totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for verified in admitted:
            passage = verified.record
            total = totals[(passage.camera_id, hour_key(passage.captured_at))]
            total[0] += 1
            total[1] += passage.confidence_pm
        self.health.count_passages((c, h, n, conf) for (c, h), (n, conf) in totals.items())

    def _verify_in_pool(self, messages: list[Incoming]) -> dict[int, object]:
        """With worker processes: decode and verify every passage of the batch there."""
        if self.pool is None:
            return {}
        chosen, jobs = [], []
        for item in messages:
            if kind_of(item.topic) in ("passage", "selftest"):
                try:
                    camera_id = camera_of(item.topic)
                except WireError:
                    continue
                chosen.append(id(item))
                jobs.append((item.payload, camera_id, self.cameras.get(camera_id)))
        return dict(zip(chosen, self.pool.verify(jobs), strict=True)) if jobs else {}

    def _passage(
        self, item: Incoming, camera_id: str, now: datetime, from_pool: dict[int, object]
    ) -> Verified[Passage] | Refusal:
        result = from_pool.get(id(item))
        if result is None:
            camera = self.cameras.get(camera_id)
            result = open_and_verify(
                item.payload, camera_id, camera, self.seal_key, self.accept_unsealed
            )
        if isinstance(result, Refusal):
            return result
        return check_skew(result, now, self.skew) or result

    def _route(self, verified: Verified[Passage], batch: AdmittedBatch) -> None:
        """Offer to the listeners; keep only plan cameras' passages younger than 28 days.

        Passages of cameras not designated in the camera plan at capture time may only be
        matched against hotlists: they are never written to the 28-day store. Both kinds of
        dropped passage are acknowledged: they have been dealt with as the law requires.
        """
        passage = verified.record
        batch.admitted.append(verified)
        for listener in self.listeners:
            listener(verified)
        if passage.captured_at < cutoff(batch.at):
            self.counters.add("expired_on_arrival")
        elif not self.cameras.designated(passage.camera_id, passage.captured_at):
            self.counters.add("not_in_plan_discarded")
        else:
            batch.to_store.append(verified)
            return
        batch.plan.seqs[passage.camera_id].append(passage.seq)

    def _refuse(self, topic: str, refused: Refusal, batch: AdmittedBatch) -> None:
        record_refusal(self.rejections, self.counters, topic, refused, batch.at)
        known = refused.camera_id and self.cameras.get(refused.camera_id) is not None
        if known and refused.seq is not None:
            batch.plan.refused[refused.camera_id].append(Rejection(refused.seq, refused.reason))


class Storage:
    def __init__(
        self, config: CentralConfig, counters: Tally, clock: Callable[[], datetime]
    ) -> None:
        self.counters = counters
        self.store = open_store(config, clock)
        self.rejections = RejectionLog(config.rejections_path)
        self.ledger = Ledger(config.metrics_path)

    def close(self) -> None:
        self.store.close()
        self.rejections.close()
        self.ledger.close()

    def store_batch(self, batch: AdmittedBatch) -> AckPlan:
        """Commit the batch; afterwards its acknowledgements may go out."""
        outcomes = self.store.insert_batch(batch.to_store, batch.at) if batch.to_store else []
        for verified, outcome in zip(batch.to_store, outcomes, strict=True):
            passage = verified.record
            if outcome is Outcome.CONFLICT:
                refused = Refusal(
                    "seq_conflict",
                    f"seq {passage.seq} already stored with different content",
                    passage.camera_id,
                    passage.seq,
                )
                log.error("INTEGRITY ALERT camera=%s: %s", passage.camera_id, refused)
                topic = passage_topic(passage.camera_id)
                record_refusal(self.rejections, self.counters, topic, refused, batch.at)
                batch.plan.refused[passage.camera_id].append(Rejection(passage.seq, refused.reason))
                continue
            self.counters.add(outcome.value)
            batch.plan.seqs[passage.camera_id].append(passage.seq)
        return batch.plan

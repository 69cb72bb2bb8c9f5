"""The central service's configuration: one TOML file, validated once at start-up.

Secrets (the Flask session key, the ack-signing key) are files named here, never values in
the file; under systemd they come from LoadCredential= and `$CREDENTIALS_DIRECTORY`.
The service refuses to start without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from central.databases import PostgresSchema, StoreLocation
from central.health.rules import Limits
from node.config_file import ConfigError, path_resolver, read_toml, validate
from node.config_file import Section as _Section
from node.tls import MqttTransport, is_loopback


class StorageConfig(_Section):
    data_dir: Path = Field(description="Folder for the SQLite stores (passages, cameras, log)")
    keys_dir: Path = Field(
        description="Folder for the per-day data keys; on another disk than data_dir, "
        "never in the same backup"
    )
    audit_anchor_dir: Path | None = Field(
        default=None,
        description="The audit trail's anchor: the audit keeper's folder (anchor.log, "
        "keeper.sock), held under its own account; default <data_dir>/audit-anchor",
    )
    backend: Literal["sqlite", "postgresql"] = Field(
        default="sqlite",
        description="Where passages live: SQLite day files in data_dir (one host), or "
        "PostgreSQL day partitions shared by several central nodes (docs/scaling.md)",
    )
    postgresql: str | None = Field(
        default=None,
        description="libpq connection string for backend = 'postgresql', e.g. 'host=db.example "
        "dbname=anpr user=anpr sslmode=verify-full'; no password here: use ~/.pgpass, "
        "PGPASSFILE or a client certificate",
    )

    @model_validator(mode="after")
    def _backend_has_its_database(self) -> StorageConfig:
        if self.backend == "postgresql" and not self.postgresql:
            raise ValueError(
                "storage.backend = 'postgresql' needs storage.postgresql, the database's "
                "connection string"
            )
        if self.postgresql and "password" in self.postgresql.lower():
            raise ValueError(
                "storage.postgresql must not hold a password: put it in a ~/.pgpass file "
                "(PGPASSFILE) the service account alone can read"
            )
        return self


class RetentionConfig(_Section):
    interval_s: float = Field(
        default=300.0,
        gt=0,
        le=1800,
        description="Seconds between retention runs; expired data is gone within the hour",
    )
    alert_days: int = Field(
        default=28,
        ge=1,
        le=366,
        description="Days hotlist alerts (with their images) are kept in the hit store",
    )


class SecretsConfig(_Section):
    session_key_file: Path = Field(description="File with >= 32 random bytes for Flask sessions")
    ack_signing_key_file: Path = Field(description="PEM Ed25519 key that signs acknowledgements")
    audit_signing_key_file: Path | None = Field(
        default=None, description="PEM Ed25519 key that signs the audit trail's checkpoints"
    )
    seal_key_file: Path | None = Field(
        default=None,
        description="PEM X25519 key that opens records sealed by the units (seal.key)",
    )


class MqttConfig(MqttTransport):
    client_id: str = Field(
        default="anpr-central-ingest",
        description="Fixed id: the broker keeps this persistent session while ingest is down",
    )


class IngestConfig(_Section):
    batch_size: int = Field(default=200, ge=1, le=5000, description="Records per transaction")
    batch_wait_ms: int = Field(default=50, ge=0, le=5000, description="Wait to fill a batch")
    queue_size: int = Field(
        default=2000,
        ge=10,
        le=100_000,
        description="Received records waiting; full = back-pressure",
    )
    max_future_skew_s: int = Field(
        default=300, ge=0, le=86400, description="Refuse records captured this far in the future"
    )
    verify_workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Processes that decode and verify passages (0: in the ingest thread)",
    )
    accept_unsealed: bool = Field(
        default=False,
        description="Accept passages not sealed to the central's key: for tests of the "
        "admission checks only, never in a shipped config (units seal every record)",
    )
    shared_group: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Several ingest workers (storage.backend = 'postgresql'): the MQTT v5 "
        "shared-subscription group they split the cameras' traffic in. Each worker needs "
        "its own mqtt.client_id; its broker session ends with it, and what it held "
        "unacknowledged the units send again (their spool keeps every record until the "
        "central's signed acknowledgement)",
    )


class WebConfig(_Section):
    host: str = Field(default="127.0.0.1", description="Listen address (loopback only for now)")
    port: int = Field(default=8080, ge=1, le=65535, description="Listen port")
    proxy_hops: int = Field(
        default=0,
        ge=0,
        le=3,
        description="Reverse proxies in front that set X-Forwarded-For (the TLS proxy: 1); "
        "login throttling per address reads the client's address from them",
    )
    demo_views: bool = Field(
        default=False,
        description="Show the latest passages without a search (demo and training only): "
        "the law allows consulting passages only through order-bound searches",
    )
    training: bool = Field(
        default=False,
        description="A training instance: generated passages only, marked as such on every "
        "page, never subscribed to real cameras",
    )
    demo: bool = Field(
        default=False,
        description="The `make demo` instance: rendered traffic and demo accounts, marked "
        "DEMO on every page",
    )
    language: Literal["nl", "en"] = Field(
        default="nl",
        description="The pages' language unless a person chooses the other with the switch "
        "on every page: nl (Dutch) or en (English); the JSON API, logs and audit trail stay "
        "English",
    )

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        # Accounts and authorisation arrive with the officers' issue; until then the
        # passage API must not be reachable from the network.
        if not is_loopback(value):
            raise ValueError(
                "the web service has no login yet and listens on loopback only "
                "(127.0.0.1, ::1, localhost); put an authenticating proxy in front"
            )
        return value


class AlertsConfig(_Section):
    webhook_url: str | None = Field(
        default=None,
        description="Optional: POST every control-room alert here as signed JSON (https; "
        "http only to loopback)",
    )
    webhook_secret_file: Path | None = Field(
        default=None, description="File with >= 32 bytes: the webhook's HMAC-SHA-256 secret"
    )
    webhook_attempts: int = Field(
        default=5, ge=1, le=20, description="Tries per alert (back-off 1 s, doubling)"
    )
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=60, description="Per POST")
    unit_hotlist_cameras: tuple[str, ...] = Field(
        default=(),
        description="Cameras that match on the unit too: the service pushes each its list as "
        "keyed hashes whenever it changes (checked every minute)",
    )
    unit_hotlist_master_key_file: Path | None = Field(
        default=None, description="The unit-hotlist master key (>= 32 secret bytes)"
    )

    @model_validator(mode="after")
    def _secret_with_url(self) -> AlertsConfig:
        if self.webhook_url and self.webhook_secret_file is None:
            raise ValueError("a webhook needs alerts.webhook_secret_file to sign its alerts")
        if self.unit_hotlist_cameras and self.unit_hotlist_master_key_file is None:
            raise ValueError("unit_hotlist_cameras needs alerts.unit_hotlist_master_key_file")
        return self


class HealthConfig(_Section):
    interval_s: float = Field(default=15.0, gt=0, le=600, description="Seconds between checks")
    offline_after_s: float = Field(
        default=Limits.offline_after_s,
        gt=0,
        le=3600,
        description="OFFLINE after this long without heartbeat",
    )
    clock_offset_s: float = Field(
        default=Limits.clock_offset_s,
        gt=0,
        le=3600,
        description="DEGRADED when the unit's clock is off by more",
    )
    spool_age_s: int = Field(
        default=Limits.spool_age_s,
        ge=1,
        le=86400,
        description="DEGRADED when its oldest spooled record is older",
    )
    drop_rate: float = Field(
        default=Limits.drop_rate,
        gt=0,
        le=1,
        description="DEGRADED when this share of frames is dropped",
    )

    min_mean_confidence: float = Field(
        default=Limits.min_mean_confidence,
        ge=0,
        le=1,
        description="DEGRADED when last hour's mean read confidence is lower",
    )
    traffic_floor: float = Field(
        default=Limits.traffic_floor,
        ge=0,
        le=1,
        description="DEGRADED when last hour's passages fall below this share of the usual",
    )

    def limits(self) -> Limits:
        return Limits(
            self.offline_after_s,
            self.clock_offset_s,
            self.spool_age_s,
            self.drop_rate,
            self.min_mean_confidence,
            self.traffic_floor,
        )


class MetricsConfig(_Section):
    tls_files: tuple[Path, ...] = Field(
        default=(),
        description="More PEM certificates and CRLs whose remaining validity /metrics reports "
        "(the broker's server certificate, its CRL); mqtt.tls_ca_file and tls_cert_file always",
    )


class CentralConfig(_Section):
    storage: StorageConfig
    secrets: SecretsConfig
    mqtt: MqttConfig = MqttConfig()
    ingest: IngestConfig = IngestConfig()
    web: WebConfig = WebConfig()
    retention: RetentionConfig = RetentionConfig()
    health: HealthConfig = HealthConfig()
    alerts: AlertsConfig = AlertsConfig()
    metrics: MetricsConfig = MetricsConfig()

    @model_validator(mode="after")
    def _shared_ingest_needs_a_shared_store(self) -> CentralConfig:
        if self.ingest.shared_group and self.storage.backend != "postgresql":
            raise ValueError(
                "ingest.shared_group splits traffic between ingest workers, which must then "
                "share one passage store: set storage.backend = 'postgresql'"
            )
        return self

    @property
    def hotlists_path(self) -> StoreLocation:
        return self._store("hotlists")

    @property
    def calamity_path(self) -> StoreLocation:
        return self._store("calamity")

    @property
    def accounts_path(self) -> StoreLocation:
        return self._store("accounts")

    @property
    def audit_path(self) -> Path:
        return self.storage.data_dir / "audit.sqlite"

    @property
    def audit_anchor_dir(self) -> Path:
        return self.storage.audit_anchor_dir or self.storage.data_dir / "audit-anchor"

    @property
    def requests_path(self) -> StoreLocation:
        return self._store("requests")

    @property
    def bundles_path(self) -> StoreLocation:
        return self._store("bundles")

    @property
    def health_path(self) -> StoreLocation:
        return self._store("health")

    @property
    def plan_path(self) -> StoreLocation:
        return self._store("plan")

    @property
    def statistics_path(self) -> StoreLocation:
        return self._store("statistics")

    @property
    def cameras_path(self) -> StoreLocation:
        return self._store("cameras")

    @property
    def rejections_path(self) -> StoreLocation:
        return self._store("rejections")

    @property
    def metrics_path(self) -> StoreLocation:
        """Running totals behind /metrics (central/tally.py), written by ingest and
        retention, read by the web: of this host's processes, whatever the backend (a
        Prometheus target per host, summed in the query, as its counters are meant)."""
        return self.storage.data_dir / "metrics.sqlite"

    @property
    def custody_path(self) -> StoreLocation:
        """Holds and custody of passages (central/store/custody.py)."""
        return self._store("custody")

    @property
    def work_path(self) -> StoreLocation:
        """Work the web's pages started (package builds, long searches), seen by every web
        node (central/web/work_board.py)."""
        return self._store("work")

    def _store(self, name: str) -> StoreLocation:
        """A small store's place: its SQLite file in data_dir, or with storage.backend =
        "postgresql" its schema in the shared database, so every central node sees one."""
        if self.storage.backend == "postgresql":
            return PostgresSchema(self.storage.postgresql, name)
        return self.storage.data_dir / f"{name}.sqlite"


def load_config(path: Path) -> CentralConfig:
    """Read and validate the TOML; relative paths are taken from the file's folder."""
    raw = read_toml(path, "central config")
    return parse_config(raw, base=path.parent, source=str(path))


def parse_config(raw: dict, base: Path, source: str = "config") -> CentralConfig:
    config = validate(CentralConfig, raw, source)
    resolve = path_resolver(base)
    return config.model_copy(
        update={
            "storage": config.storage.model_copy(
                update={
                    "data_dir": resolve(config.storage.data_dir),
                    "keys_dir": resolve(config.storage.keys_dir),
                    "audit_anchor_dir": resolve(config.storage.audit_anchor_dir)
                    if config.storage.audit_anchor_dir
                    else None,
                }
            ),
            "mqtt": config.mqtt.with_resolved_files(resolve),
            "metrics": MetricsConfig(tls_files=tuple(resolve(p) for p in config.metrics.tls_files)),
            "alerts": config.alerts.model_copy(
                update={
                    "webhook_secret_file": resolve(config.alerts.webhook_secret_file)
                    if config.alerts.webhook_secret_file
                    else None,
                    "unit_hotlist_master_key_file": resolve(
                        config.alerts.unit_hotlist_master_key_file
                    )
                    if config.alerts.unit_hotlist_master_key_file
                    else None,
                }
            ),
            "secrets": SecretsConfig(
                session_key_file=resolve(config.secrets.session_key_file),
                ack_signing_key_file=resolve(config.secrets.ack_signing_key_file),
                seal_key_file=(
                    resolve(config.secrets.seal_key_file) if config.secrets.seal_key_file else None
                ),
                audit_signing_key_file=(
                    resolve(config.secrets.audit_signing_key_file)
                    if config.secrets.audit_signing_key_file
                    else None
                ),
            ),
        }
    )


def read_session_key(path: Path) -> bytes:
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(
            f"cannot read session key {path}: {exc.strerror}; "
            "create one with `anpr-provision central-keys`"
        ) from None
    if len(key) < 32:
        raise ConfigError(f"session key {path} is shorter than 32 bytes; generate a real one")
    return key

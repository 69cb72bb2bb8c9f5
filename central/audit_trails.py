"""The audit trail a CentralConfig names: SQLite (`central/audit.py`) on one host, or
PostgreSQL (`central/audit_postgres.py`) shared by several central nodes (`storage.backend`).
Apart from both so that neither backend imports the other."""

from __future__ import annotations

from datetime import datetime

from central.audit import AuditTrail
from central.audit_anchor import AuditAnchor


def open_audit_trail(config) -> AuditTrail:
    """The trail named by a CentralConfig (`storage.backend`), anchored in its
    `audit_anchor_dir` (the audit keeper's folder in production)."""
    anchor = AuditAnchor(config.audit_anchor_dir)
    if config.storage.backend == "postgresql":
        from central.audit_postgres import PostgresAuditTrail

        return PostgresAuditTrail(config.storage.postgresql, anchor)
    return AuditTrail(config.audit_path, anchor)


def record_in(config, actor: str, action: str, details: dict, now: datetime) -> int:
    """Append one entry to the trail a CentralConfig names (`open_audit_trail`)."""
    trail = open_audit_trail(config)
    try:
        return trail.append(actor, action, details, now)
    finally:
        trail.close()

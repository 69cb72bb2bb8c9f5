"""The result package: one signed ZIP per issue, downloaded by the requester, never e-mailed.

It holds the supplied passages (CSV and JSON, with each row's verification state), their
crops, the signed records as the cameras signed them, the approved (blurred) photos when
the order asked for photos, the order's reference and any foreign-request conditions, and
a manifest with every file's SHA-256 signed by the central. Rows a verification found
wrong are withheld; a package is refused while plate-search rows wait for verification.
Every row is held against the record its camera signed as the package is built (the result
set is a copy, and the store may have been changed since the search): a row that differs is
left out, named in the signed manifest and the README, and logged as an integrity alert.
`anpr-central package verify FILE` checks a package later, anywhere.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from central.requests.consultation import sound_rows
from central.requests.downloads import Issue
from central.requests.orders import RequestError
from central.requests.store import Request, Requests
from central.requests.verification import row_states
from central.store.partitioned import DayPartitionedStore
from wire import SigningKey, VerifyKey, WireError

Progress = Callable[[int, int], None]  # rows done, rows in all
FORMAT = "anpr-result-package/1"
CSV_FIELDS = (
    "camera_id", "seq", "captured_at", "plate", "country", "confidence", "direction", "lane",
    "lat", "lon", "search_kind", "result_set", "verification", "crop", "photo", "record",
)  # fmt: skip


class PackageError(Exception):
    """A package cannot be made, or does not verify."""


def _rows(request: Request, requests: Requests, store: DayPartitionedStore):
    """(rows to hand out with their state and origin, number withheld after verification,
    rows withheld because they differ from their signed record) over all result sets."""
    chosen: dict[tuple[str, int], tuple] = {}
    withheld: set[tuple[str, int]] = set()
    pending = 0
    for result_set in requests.results.for_request(request.id):
        rows = requests.results.rows(result_set.audit_seq)
        states = row_states(store, result_set, rows)
        for row in rows:
            key = (row.camera_id, row.seq)
            state = states[key]
            if state == "wrong":
                withheld.add(key)
            elif state == "to verify":
                pending += 1
            elif key not in chosen or state == "correct":
                chosen[key] = (row, state, result_set.kind, result_set.audit_seq)
    if pending:
        raise PackageError(f"{pending} plate-search rows still wait for verification")
    kept = [v for k, v in sorted(chosen.items()) if k not in withheld]
    _, tampered = sound_rows(store, [v[0] for v in kept], f"package for request {request.id}")
    bad = {entry["passage"] for entry in tampered}
    kept = [v for v in kept if f"{v[0].camera_id}/{v[0].seq}" not in bad]
    return kept, len(withheld), tampered


class _Writer:
    """Files go straight into the ZIP as they are made, their hashes kept for the manifest:
    memory stays flat however many crops a package holds."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.hashes: dict[str, str] = {}

    def add(self, name: str, data: bytes) -> str:
        self.archive.writestr(name, data)
        self.hashes[name] = hashlib.sha256(data).hexdigest()
        return name


@dataclass(frozen=True)
class Supplied:
    """What a package handed out, for the consultation's field (h) in the audit trail."""

    rows: int
    withheld: int  # judged wrong against their crop
    integrity_withheld: list[dict]  # differ from their signed record: passage and problems
    data: bytes | None = None  # the package itself when no file was given


def build_package(
    request: Request, requests: Requests, store: DayPartitionedStore, key: SigningKey,
    issue: Issue, out: BinaryIO | None = None, progress: Progress | None = None,
) -> Supplied:  # fmt: skip
    """Write the package to `out` (a file), or into the result's `data` when `out` is None.
    `progress(rows done, rows in all)` is called as rows go in, for a progress page (#23)."""
    rows, withheld, tampered = _rows(request, requests, store)
    target = out if out is not None else io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        writer = _Writer(archive)
        table = []
        for done, row in enumerate(rows):
            if progress is not None:
                progress(done, len(rows))
            table.append(_add_row(writer, request, requests, store, *row))
        writer.add("passages.json", json.dumps(table, indent=1).encode())
        writer.add("passages.csv", _csv(table))
        writer.add("order.json", json.dumps(_order_summary(request), indent=2).encode())
        writer.add("README.txt", _readme(request, len(table), withheld, tampered).encode())
        manifest = {
            "format": FORMAT, "request_id": request.id,
            "order_reference": request.order.reference, "issue": issue.number,
            "issued_to": issue.issued_to, "issued_at": issue.issued_at.isoformat(),
            "rows": len(table), "withheld": withheld, "integrity_withheld": tampered,
            "key_id": key.key_id,
            "files": dict(sorted(writer.hashes.items())),
        }  # fmt: skip
        manifest_bytes = json.dumps(manifest, indent=1, sort_keys=True).encode()
        signature = base64.b64encode(key.sign(manifest_bytes)).decode()
        archive.writestr("manifest.json", manifest_bytes)
        archive.writestr("manifest.sig", f"{key.key_id} {signature}\n")
    if progress is not None:
        progress(len(rows), len(rows))
    return Supplied(len(table), withheld, tampered,
                    target.getvalue() if out is None else None)  # fmt: skip


def _add_row(writer: _Writer, request: Request, requests: Requests, store: DayPartitionedStore,
             row, state: str, kind: str, result_set: int) -> dict:  # fmt: skip
    name = f"{row.camera_id}_{row.seq}"
    crop = store.image(row.camera_id, row.seq, "crop")
    signed = store.signed_record(row.camera_id, row.seq)
    photo = None
    if request.order.photos_wanted:
        photo = requests.photos.jpeg(request.id, row.camera_id, row.seq)
    record = json.dumps({
        "canonical_b64": base64.b64encode(signed[0]).decode(),
        "signature_b64": base64.b64encode(signed[1]).decode(),
    }).encode() if signed is not None else None  # fmt: skip
    return {
        "camera_id": row.camera_id, "seq": row.seq, "captured_at": row.captured_at,
        "plate": row.plate, "country": row.country,
        "confidence": round(row.confidence_pm / 1000, 3), "direction": row.direction,
        "lane": row.lane, "lat": row.lat_e7 / 1e7, "lon": row.lon_e7 / 1e7,
        "search_kind": kind, "result_set": result_set, "verification": state,
        "crop": writer.add(f"crops/{name}.jpg", crop) if crop is not None else "",
        "photo": writer.add(f"photos/{name}.jpg", photo) if photo is not None else "",
        "record": writer.add(f"records/{name}.json", record) if record is not None else "",
    }  # fmt: skip


def _csv(table: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    return out.getvalue().encode()


def _order_summary(request: Request) -> dict:
    order = request.order
    summary = {
        "order_reference": order.reference, "prosecutor": order.prosecutor,
        "order_form": order.order_form, "legal_basis": order.legal_basis,
        "investigation": order.investigation, "case_number": order.case_number,
        "requested_by": request.requester, "unit": request.unit,
    }  # fmt: skip
    if order.foreign is not None:
        summary["foreign_request"] = {
            "country": order.foreign.country,
            "legal_assistance_ref": order.foreign.legal_assistance_ref,
            "conditions": list(order.foreign.conditions),
        }
    return summary


def _readme(request: Request, rows: int, withheld: int, tampered: list[dict]) -> str:
    order = request.order
    lines = [
        f"Result package for order {order.reference} ({order.investigation}, {order.case_number}).",
        f"{rows} passages. {withheld} rows were withheld because their crop did not show the "
        "plate asked for.",
        "Rows marked 'not verified' come from time/place searches and were not checked "
        "against their crops; rows marked 'correct' were.",
        "Photos, when present, are the approved, blurred versions; originals never leave "
        "the central.",
        "Check this package with: anpr-central package verify FILE",
    ]
    if tampered:
        lines.insert(2, f"{len(tampered)} rows were withheld because the stored passage no "
                        "longer matches the record its camera signed (manifest.json, "
                        "integrity_withheld): ask the central's administrator.")  # fmt: skip
    if order.foreign is not None:
        lines.append(f"Foreign request ({order.foreign.country}), conditions:")
        lines += [f"- {condition}" for condition in order.foreign.conditions]
    return "\n".join(lines) + "\n"


def verify_package(path: Path, key: VerifyKey) -> list[str]:
    """Problems found (empty: intact and signed by `key`)."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise PackageError(f"{path} is not a readable package: {exc}") from None
    with archive:
        names = set(archive.namelist())
        if not {"manifest.json", "manifest.sig"} <= names:
            return ["manifest.json or manifest.sig is missing"]
        manifest_bytes = archive.read("manifest.json")
        key_id, _, signature = archive.read("manifest.sig").decode().strip().partition(" ")
        problems = []
        if key_id != key.key_id:
            problems.append(f"signed by key {key_id}, not by the central's key {key.key_id}")
        try:
            key.verify(base64.b64decode(signature), manifest_bytes)
        except (WireError, ValueError):
            return problems + ["the manifest's signature does not verify"]
        listed = json.loads(manifest_bytes)["files"]
        for name, digest in sorted(listed.items()):
            if name not in names:
                problems.append(f"{name} is listed but missing")
            elif hashlib.sha256(archive.read(name)).hexdigest() != digest:
                problems.append(f"{name} was altered")
        for name in sorted(names - set(listed) - {"manifest.json", "manifest.sig"}):
            problems.append(f"{name} was added after signing")
    return problems


def require_issuable(request: Request, username: str) -> None:
    if username != request.requester:
        raise RequestError("the package is issued to the requesting officer only")
    if request.state.state != "delivered":
        raise RequestError("a package is issued once the results are delivered, until closing")

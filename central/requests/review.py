"""Signs of unusual use for the auditor, read from the audit trail.

The law's evaluation names the privacy risks: officers looking up relatives or
acquaintances, and asking for more data "to be sure". Neither can be proven by a rule, but
both leave traces an auditor should look at: searches refused for lying outside the order,
searches that take (nearly) the whole window the order allows, one requester filing many
requests, and one plate searched for across unrelated investigations.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from central.audit import AuditTrail

EDGE_SHARE = 0.9  # a search taking >= 90 % of the order's window takes all it may
MANY_REQUESTS = 10  # requests by one requester within the reviewed period


@dataclass(frozen=True)
class Finding:
    kind: str
    who: str
    what: str
    audit_seqs: tuple[int, ...]


def unusual_use(trail: AuditTrail, since: str = "", until: str = "\uffff") -> list[Finding]:
    entries = trail.records(
        {"consultation", "consultation_refused", "request_registered"}, since, until
    )
    findings: list[Finding] = []
    per_requester: dict[str, list[int]] = defaultdict(list)
    plates: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for e in entries:
        d = e["details"]
        if e["action"] == "request_registered":
            per_requester[e["actor"]].append(e["seq"])
            continue
        if e["action"] == "consultation_refused":
            findings.append(
                Finding(
                    "outside the order",
                    e["actor"],
                    f"{d['order_reference']}: {d['refused']}",
                    (e["seq"],),
                )
            )
        elif d.get("scope_share", 0) >= EDGE_SHARE:
            findings.append(Finding(
                "at the edge of the order", e["actor"],
                f"{d['order_reference']}: searched {d['scope_share']:.0%} of the order's window",
                (e["seq"],),
            ))  # fmt: skip
        plate = d["query"]["plate"]
        if plate:
            plates[plate][d["investigation"]].append(e["seq"])
    for requester, seqs in sorted(per_requester.items()):
        if len(seqs) >= MANY_REQUESTS:
            findings.append(
                Finding(
                    "many requests", requester, f"{len(seqs)} requests in the period", tuple(seqs)
                )
            )
    for plate, by_case in sorted(plates.items()):
        if len(by_case) > 1:
            seqs = tuple(sorted(s for group in by_case.values() for s in group))
            who = Counter(e["actor"] for e in entries if e["seq"] in seqs).most_common(1)[0][0]
            findings.append(Finding(
                "plate searched across investigations", who,
                f"{plate} in {len(by_case)} investigations: {', '.join(sorted(by_case))}", seqs,
            ))  # fmt: skip
    return findings

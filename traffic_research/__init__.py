"""The traffic-research service: pseudonymised sightings in, k-anonymous figures out.

Deliberately a package and a process of its own (`anpr-research`): it has its own config,
data directory, MQTT identity and keys, subscribes only to research topics, and imports
nothing from the police side (`central`). The police side never subscribes to research
topics; the research side never receives a plate.
"""

import sys

if sys.version_info < (3, 11):  # noqa: UP036  (the package says >=3.10: the unit side's floor)
    raise SystemExit(
        "anpr: the research service needs Python 3.11 or newer; this is "
        f"{sys.version_info[0]}.{sys.version_info[1]} (only the roadside unit runs on 3.10, "
        "JetPack 6's; see docs/operations.md)"
    )

"""The traffic-research service: pseudonymised sightings in, k-anonymous figures out.

Deliberately a package and a process of its own (`anpr-research`): it has its own config,
data directory, MQTT identity and keys, subscribes only to research topics, and imports
nothing from the police side (`central`). The police side never subscribes to research
topics; the research side never receives a plate.
"""

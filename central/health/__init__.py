"""Camera health for maintainers: OK, DEGRADED or OFFLINE, with the reason, over time."""

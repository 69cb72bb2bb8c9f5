"""Hotlists: wanted vehicles matched against every passage, and the alerts they raise."""

"""Requests for consultation of the 28-day store, on a prosecutor's order."""

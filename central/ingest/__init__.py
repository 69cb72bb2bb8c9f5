"""Ingest: every record the units send, from the broker to the store, acknowledged only after
commit.

`service.py` holds the MQTT session, batching and acknowledgements; `stages.py` the admit
and store stages, one thread each; `admission.py` the checks a record must pass, as pure
code; `pool.py` runs those checks in worker processes; `refusal.py` is the one type a
refusal travels as, and `rejections.py` the log it is recorded in.
"""

"""The roadside agent: capture, recognise, sign, spool, publish."""

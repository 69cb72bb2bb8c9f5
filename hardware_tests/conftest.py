"""Hardware tests run only where the hardware is: skipped with the reason elsewhere."""

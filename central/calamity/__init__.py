"""The calamity buffer: the last 3 hours of every passage, frozen only in a declared calamity."""

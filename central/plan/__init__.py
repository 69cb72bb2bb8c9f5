"""The legal camera plan (art. 126jj Sv): yearly versions, cameras with their legal ground,
locations, status over time, acceptance tests, mobile deployments, and its publication.

The plan decides which cameras may fill the 28-day store and when: ratifying a version,
deploying a mobile camera or changing a camera's status recomputes the camera's effective
designations, which ingest consults at capture time.
"""

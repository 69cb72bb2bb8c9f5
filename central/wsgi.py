"""WSGI entry for gunicorn: `gunicorn 'central.wsgi:app'` with ANPR_CENTRAL_CONFIG set."""

import os
from pathlib import Path

from central import create_app
from central.config import load_config

app = create_app(load_config(Path(os.environ["ANPR_CENTRAL_CONFIG"])))

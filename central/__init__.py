"""The central service: MQTT ingest, passage store, camera registry, web UI and JSON API."""

from __future__ import annotations

import sys

if sys.version_info < (3, 11):  # noqa: UP036  (the package says >=3.10: the unit side's floor)
    raise SystemExit(
        "anpr: the central needs Python 3.11 or newer; this is "
        f"{sys.version_info[0]}.{sys.version_info[1]} (only the roadside unit runs on 3.10, "
        "JetPack 6's; see docs/operations.md)"
    )

from flask import Flask

from central.config import CentralConfig, read_session_key

# The largest body any page or endpoint takes: a written order of up to 10 MiB, with its form.
MAX_REQUEST_BYTES = 11 * 1024 * 1024


def create_app(config: CentralConfig) -> Flask:
    """Build the web application. Refuses to start without a real session secret."""
    app = Flask(__name__, template_folder="web/templates")
    app.config.update(
        ANPR=config,
        SECRET_KEY=read_session_key(config.secrets.session_key_file),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
    )
    app.json.sort_keys = False
    from central.web.converters import CameraId, DatabaseInteger

    app.url_map.converters["int"] = DatabaseInteger
    app.url_map.converters["camera"] = CameraId
    # A path with an empty segment (`/packages//progress`) names nothing: a 404, not a
    # redirect to the merged path that another route may take (found by fuzzing).
    app.url_map.merge_slashes = False
    if config.web.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Only the trusted proxies' own X-Forwarded-For entries are believed.
        hops = config.web.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    from central.web import (
        access,
        alerts,
        api,
        calamity,
        charts_pages,
        commissioning,
        display,
        enroll,
        health,
        language,
        map_assets,
        oversight,
        passages,
        plan,
        plan_admin,
        prosecutor,
        requests,
        requests_api,
        results,
        security,
        stores,
    )
    from central.web.navigation_bar import navigation
    from central.web.security_headers import add_security_headers, template_values

    for module in (access, api, enroll, passages, health, alerts, calamity, plan_admin, plan,
                   requests, requests_api, oversight, results, security, prosecutor,
                   charts_pages, commissioning):  # fmt: skip
        app.register_blueprint(module.bp)
    app.register_blueprint(map_assets.bp)  # the map's library, script and basemap (#23)
    app.teardown_appcontext(stores.close_all)
    app.context_processor(navigation)
    app.context_processor(template_values)
    app.context_processor(map_assets.template_values)
    app.after_request(add_security_headers)
    display.register(app)  # Dutch local times and readable labels on the pages (#23)
    language.init(app)  # Dutch or English pages, the deployment's default first (#23)

    if config.web.training:
        from central.web.practice_banner import mark_every_page

        app.after_request(mark_every_page)
    elif config.web.demo:
        from central.web.practice_banner import mark_every_demo_page

        app.after_request(mark_every_demo_page)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app

"""The central service: MQTT ingest, passage store, camera registry, web UI and JSON API."""

from __future__ import annotations

from flask import Flask

from central.config import CentralConfig, read_session_key


def create_app(config: CentralConfig) -> Flask:
    """Build the web application. Refuses to start without a real session secret."""
    app = Flask(__name__)
    app.config.update(
        ANPR=config,
        SECRET_KEY=read_session_key(config.secrets.session_key_file),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
    )
    app.json.sort_keys = False
    from central import api, web
    from central.accounts import web as accounts_web
    from central.calamity import views as calamity_views
    from central.health import views as health_views
    from central.hotlists import views as alert_views
    from central.plan import admin as plan_admin
    from central.plan import views as plan_views
    from central.requests import api as requests_api
    from central.requests import oversight, result_views
    from central.requests import views as request_views
    from central.web.navigation import navigation

    app.register_blueprint(accounts_web.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(web.bp)
    app.register_blueprint(health_views.bp)
    app.register_blueprint(alert_views.bp)
    app.register_blueprint(calamity_views.bp)
    app.register_blueprint(plan_admin.bp)
    app.register_blueprint(plan_views.bp)
    app.register_blueprint(request_views.bp)
    app.register_blueprint(requests_api.bp)
    app.register_blueprint(oversight.bp)
    app.register_blueprint(result_views.bp)
    app.teardown_appcontext(api.close_stores)
    app.context_processor(navigation)

    if config.web.training:
        from central.training import mark_every_page

        app.after_request(mark_every_page)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app

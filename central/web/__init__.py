"""Human pages. For now one: the latest passages, refreshed every few seconds."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from central.api import passage_json, passage_store

bp = Blueprint("web", __name__, template_folder="templates")


@bp.get("/")
def index():
    if not current_app.config["ANPR"].web.demo_views:
        return render_template("home.html")
    passages = [passage_json(p) for p in passage_store().recent(None, 50)]
    return render_template("passages.html", passages=passages)

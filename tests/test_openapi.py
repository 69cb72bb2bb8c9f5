"""docs/openapi.json describes exactly the routes the central serves, with their methods."""

import json
import re

from tests.conftest import REPO

SPEC = json.loads((REPO / "docs" / "openapi.json").read_text())


def served(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((path, method.lower()))
    return routes


def test_every_route_is_documented_and_every_documented_route_exists(app):
    documented = {(path, method) for path, ops in SPEC["paths"].items() for method in ops}
    routes = served(app)
    assert routes - documented == set(), "undocumented routes"
    assert documented - routes == set(), "documented routes that do not exist"


def test_documented_roles_are_enforced(app):
    client = app.test_client()
    for path, ops in SPEC["paths"].items():
        for method, operation in ops.items():
            if "x-roles" in operation and method == "get" and "{" not in path:
                assert client.get(path).status_code in (302, 401), f"{path} served anonymously"

"""Which permission guards a route: read from its dependencies, so the table of routes and
actions (docs/security.md, the route x role test) is what the application really enforces."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from commands.permissions import PERMISSIONS, SYSTEM


def api_routes(app: FastAPI) -> Iterator[RouteContext]:
    """Every API route of ``app`` as served: full path, and the dependencies of the routers it
    was included through."""
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute):
            yield route


def route_action(route: RouteContext) -> str | None:
    """The action the route's ``permit`` names; None when the route declares no permission."""
    dependant: Dependant = route.dependant
    found = _find(dependant, "permission_action")
    if found is not None:
        return str(found)
    return None


def route_for(app: FastAPI, method: str, path: str) -> RouteContext | None:
    """The API route that serves ``method path``, if any."""
    for route in api_routes(app):
        if method in (route.methods or ()) and route.path_regex.match(path):
            return route
    return None


def route_actions(app: FastAPI) -> dict[tuple[str, str], str | None]:
    """(method, path) -> action for every API route of ``app``."""
    return {
        (method, str(route.path)): route_action(route)
        for route in api_routes(app)
        for method in sorted(route.methods or ())
    }


def _find(dependant: Dependant, attribute: str) -> object | None:
    for dependency in dependant.dependencies:
        value = getattr(dependency.call, attribute, None)
        if value is not None:
            return value
        value = _find(dependency, attribute)
        if value is not None:
            return value
    return None


def permission_table(app: FastAPI) -> str:
    """The permission table as Markdown, each action with the routes that name it (kept in
    docs/security.md; a test compares the two)."""
    routes: dict[str, list[str]] = {}
    for (method, path), action in sorted(route_actions(app).items(), key=lambda r: r[0][::-1]):
        routes.setdefault(action or "", []).append(f"`{method} {path}`")
    docs = [url for url in (app.openapi_url, app.docs_url, app.redoc_url) if url]
    routes["api.docs"] = [f"`GET {url}`" for url in docs]
    lines = ["| action | what | who (scope) | routes |", "|---|---|---|---|"]
    for action, allowed in PERMISSIONS.items():
        who = (
            "anyone, no token"
            if allowed.public
            else ", ".join(
                role if scope == "any" else f"{role} ({scope})"
                for role, scope in allowed.roles.items()
                if role != SYSTEM
            )
            or "the deadline watcher only"
        )
        served_by = ", ".join(routes.get(action, [])) or "no route"
        lines.append(f"| `{action}` | {allowed.summary} | {who} | {served_by} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    # Prints the table for docs/security.md: ``uv run python -m api.route_permissions``.
    from fastapi import FastAPI as _App

    from api.app import ROUTERS

    _api = _App()
    for _router in ROUTERS:
        _api.include_router(_router)
    print(permission_table(_api), end="")

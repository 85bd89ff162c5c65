"""Which permission guards a route: read from its dependencies, so the table of routes and
actions (docs/security.md, the route x role test) is what the application really enforces."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from commands.permissions import PLANNED_ROUTES


def route_action(route: APIRoute) -> str | None:
    """The action the route's ``permit`` names; for a route still guarded by ``require_role``,
    its action in ``PLANNED_ROUTES``; None when the route declares no permission."""
    found = _find(route.dependant, "permission_action")
    if found is not None:
        return str(found)
    if _find(route.dependant, "required_roles") is not None:
        for method in route.methods or ():
            if (method, route.path) in PLANNED_ROUTES:
                return PLANNED_ROUTES[(method, route.path)]
    return None


def required_roles(route: APIRoute) -> frozenset[str] | None:
    """The roles of a ``require_role`` guard, if the route has one."""
    found = _find(route.dependant, "required_roles")
    return frozenset(str(role) for role in found) if isinstance(found, frozenset) else None


def route_actions(app: FastAPI) -> dict[tuple[str, str], str | None]:
    """(method, path) -> action for every API route of ``app``."""
    return {
        (method, route.path): route_action(route)
        for route in app.routes
        if isinstance(route, APIRoute)
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

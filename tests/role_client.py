"""A test client that authenticates each request as a role the permission table allows."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient

from aggregates.vocabulary import Role
from api.route_permissions import route_action, route_for
from commands.permissions import permission

PREFERRED_ROLES = (
    Role.SUPERVISOR,
    Role.ADMIN,
    Role.COMPLIANCE,
    Role.SERVICE,
    Role.ANALYST,
    Role.AGENT,
)


class RoleClient(TestClient):
    """Sends each request with the token of the first role of ``PREFERRED_ROLES`` that the
    permission table lets call the route, unless the request or the client names a token.

    Tests of what a route does then need not know who may call it; what each role may do is
    tested route by route in tests/api/test_permissions.py.
    """

    tokens: dict[Role, str]

    def build_request(self, method: str, url: Any, **kwargs: Any) -> httpx.Request:
        request = super().build_request(method, url, **kwargs)
        if "authorization" not in request.headers:
            token = self.token_for(request.method, request.url.path)
            if token is not None:
                request.headers["Authorization"] = f"Bearer {token}"
        return request

    def token_for(self, method: str, path: str) -> str | None:
        route = route_for(self.app, method, path)  # type: ignore[arg-type]
        action = route_action(route) if route is not None else None
        if action is None or permission(action).public:
            return None
        allowed = permission(action)
        return next((self.tokens[r] for r in PREFERRED_ROLES if allowed.allows(r)), None)

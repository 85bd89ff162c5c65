"""/tokens: admins issue, list and revoke API tokens over HTTP (as ``complaints tokens`` does on
the host). A token's secret is answered once, at issue; only its hash is stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel

from api.deps import AppDep, ContextDep, Principal, permit
from api.problems import problem_responses
from commands.errors import TokenNotFoundError
from commands.token_models import IssueToken, parse_lifetime
from commands.tokens import TokenInfo

router = APIRouter(prefix="/tokens", tags=["tokens"])
ERRORS = problem_responses(
    {
        403: "Not an admin",
        404: "No token with that id",
        409: "The token is already revoked",
    }
)
AdminDep = Annotated[Principal, permit("tokens.manage")]
# Ids that are not UUIDs are answered 404 (they can name no token).
TokenId = Annotated[
    str, Path(description="The token's id (a UUID)", json_schema_extra={"format": "uuid"})
]


class TokenPublic(BaseModel):
    id: UUID
    name: str
    role: str
    teams: list[str]
    grants: list[str]
    issued_at: datetime
    issued_by: str
    expires_at: datetime | None
    revoked_at: datetime | None


class IssuedTokenPublic(TokenPublic):
    secret: str
    """Shown this once: only its hash is stored."""


def public(info: TokenInfo) -> TokenPublic:
    return TokenPublic(
        id=info.token_id,
        name=info.name,
        role=info.role,
        teams=list(info.teams),
        grants=sorted(info.grants),
        issued_at=info.issued_at,
        issued_by=info.issued_by,
        expires_at=info.expires_at,
        revoked_at=info.revoked_at,
    )


@router.post("", status_code=201, response_model=IssuedTokenPublic, responses=ERRORS)
def issue(
    body: IssueToken, app: AppDep, ctx: ContextDep, _: AdminDep, response: Response
) -> IssuedTokenPublic:
    expires_at = datetime.now(UTC) + parse_lifetime(body.expires_in) if body.expires_in else None
    issued = app.tokens.issue(
        body.name, body.role, ctx, expires_at, teams=body.teams, grants=body.grants
    )
    response.headers["Location"] = f"/tokens/{issued.token_id}"
    response.headers["Cache-Control"] = "no-store"
    return IssuedTokenPublic(
        id=issued.token_id,
        name=issued.name,
        role=issued.role,
        teams=list(issued.teams),
        grants=sorted(issued.grants),
        issued_at=issued.issued_at or datetime.now(UTC),
        issued_by=ctx.principal,
        expires_at=expires_at,
        revoked_at=None,
        secret=issued.secret,
    )


@router.get("", response_model=list[TokenPublic], responses=ERRORS)
def list_all(app: AppDep, _: Annotated[Principal, permit("tokens.read")]) -> list[TokenPublic]:
    """Every token ever issued, revoked and expired ones included (never a secret)."""
    return [public(t) for t in app.tokens.all()]


@router.delete("/{token_id}", status_code=204, responses=ERRORS)
def revoke(
    token_id: TokenId,
    app: AppDep,
    ctx: ContextDep,
    _: AdminDep,
) -> Response:
    """Revokes the token: refused at once by this process, by others within
    COMPLAINTS_TOKEN_CACHE_SECONDS; its open event streams end before their next event."""
    try:
        parsed = UUID(token_id)
    except ValueError:
        raise TokenNotFoundError(f"no token with id {token_id[:40]!r}") from None
    app.tokens.revoke_one(parsed, ctx)
    return Response(status_code=204)

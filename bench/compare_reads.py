"""The read routes' answers and access-log rows of one checkout, on a given store, as JSON lines:
run it for two checkouts on the same store and ``diff`` the outputs.

The first run on an empty store files a few complaints (assigned, commented, one to another team)
and issues its readers' tokens (kept in ``--state``); every run then asks the same requests, each
with its own ``X-Request-ID``, and prints each answer (status, headers but ``date``, body) and the
access-log rows written for it (without their random id and their time).

    BENCH_CHECKOUT=../base uv run python bench/compare_reads.py --database-url URL --state S \\
        --tag a > a
    uv run python bench/compare_reads.py --database-url URL --state S --tag b > b && diff a b

``COMPLAINTS_SECRET_KEY`` must be the same for both runs (the store's data keys are wrapped by it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

CHECKOUT = Path(os.environ.get("BENCH_CHECKOUT") or Path(__file__).resolve().parents[1]).resolve()
sys.path.insert(0, str(CHECKOUT))

from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from commands.context import CommandContext  # noqa: E402
from commands.models import AssignComplaint, CommentOnComplaint, FileComplaint  # noqa: E402
from infra.bootstrap import bootstrap  # noqa: E402
from infra.settings import Settings  # noqa: E402
from tests.intake import intake  # noqa: E402

_CLOCK = re.compile(r'"remaining_seconds":[0-9]+')
READERS = {  # name: (role, teams)
    "agent-a": ("agent", ()),
    "agent-b": ("agent", ()),
    "sup-west": ("supervisor", ("west",)),
    "compliance": ("compliance", ()),
    "analyst": ("analyst", ()),
}


def set_up(services: Any, state: Path) -> dict[str, Any]:
    if state.exists():
        return json.loads(state.read_text())  # type: ignore[no-any-return]
    app = services.app
    ctx = CommandContext(principal="setup", role="supervisor", correlation_id="setup")
    ids = [str(app.file_complaint(FileComplaint(**intake()), ctx).complaint_id) for _ in range(12)]
    for n, cid in enumerate(ids):
        if n % 3 == 0:
            app.handle(cid_of(cid), AssignComplaint(assignee="agent-a"), ctx)
        if n % 4 == 1:
            app.handle(cid_of(cid), AssignComplaint(assignee="agent-b", team="east"), ctx)
        if n % 2 == 0:
            app.handle(cid_of(cid), CommentOnComplaint(body="Called back.", visibility="customer"),
                       ctx)
    services.runner().catch_up()
    tokens = {
        name: app.tokens.issue(name, role, ctx, teams=teams).secret
        for name, (role, teams) in READERS.items()
    }
    saved = {"ids": ids, "tokens": tokens}
    state.write_text(json.dumps(saved))
    return saved


def cid_of(text: str) -> Any:
    from uuid import UUID

    return UUID(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--state", required=True, type=Path, help="ids and tokens of the store")
    parser.add_argument("--tag", required=True,
                        help="prefix of the requests' X-Request-ID: another one for each run")
    args = parser.parse_args()
    files = args.state.with_suffix(".files")
    files.mkdir(exist_ok=True)
    settings = Settings(
        database_url=args.database_url,
        secret_key_file=str(files / "secret.key"),
        admin_token_file=str(files / "admin-token"),
    )
    with bootstrap(settings) as services:
        saved = set_up(services, args.state)
        client = TestClient(create_app(services))
        ids, tokens = saved["ids"], saved["tokens"]
        paths = [f"/complaints/{cid}" for cid in ids] + [
            "/complaints/00000000-0000-0000-0000-000000000000",
            "/complaints/not-a-uuid",
            "/complaints?limit=50",
            "/complaints?limit=5",
            "/complaints?limit=3&sort=filed_at",
            "/complaints?assignee=agent-a",
            "/complaints?limit=0",
        ]
        store = services.read_models
        n = 0
        for reader, token in tokens.items():
            for path in paths:
                n += 1
                request_id = f"{args.tag}-{n}"
                answer = client.get(path, headers={
                    "Authorization": f"Bearer {token}", "X-Request-ID": request_id,
                    "X-Purpose": "comparison",
                })
                with store.read() as tx:
                    rows = tx.rows(
                        f"SELECT * FROM {tx.table('access_log')} WHERE request_id = %s",
                        [request_id],
                    )
                logged = sorted(
                    # The request id is the tag's: shown as the request's number.
                    json.dumps({k: str(n) if k == "request_id" else str(v)
                                for k, v in r.items() if k not in ("id", "at")}, sort_keys=True)
                    for r in rows
                )
                headers = {k: v for k, v in answer.headers.items()
                           if k not in ("date", "x-request-id")}
                print(json.dumps({
                    "reader": reader, "path": path, "status": answer.status_code,
                    # The SLA clocks' seconds left move between two runs; nothing else does.
                    "headers": headers,
                    "body": _CLOCK.sub('"remaining_seconds":N', answer.text),
                    "access_log": logged,
                }, sort_keys=True))


if __name__ == "__main__":
    main()

"""Captures real stored event rows, and what the API answers for them, as a fixture.

Run from the repository root: ``uv run python tests/data/capture_stored_events.py [OUT]``. It
files complaints through the HTTP API on a fresh SQLite store (one with every field and
attachments, then assigned, commented on, escalated, closed and reopened; one minimal), plus one
straight through the aggregate as ``tests/poison.py`` does (at commit 7562b07, which made
``stored_events_v1.json``, that stored the sparse customer and product objects older importers
wrote), and writes every stored row except access tokens (topic, version and the stored JSON
state, byte for byte) with the API's answers for them to ``OUT``: by default
``tests/data/stored_events_v1.json``, which it never overwrites.
``tests/application/test_stored_events_load.py`` inserts those rows into a fresh store and checks
that they still load to the same answers.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from api.app import create_app  # noqa: E402
from commands.context import CommandContext  # noqa: E402
from infra.bootstrap import bootstrap  # noqa: E402
from infra.settings import Settings  # noqa: E402
from tests.intake import intake  # noqa: E402
from tests.poison import store_poison  # noqa: E402

OUT = Path(__file__).with_name("stored_events_v1.json")


def answers(client: TestClient, complaint_id: str) -> dict[str, Any]:
    return {
        "complaint": client.get(f"/complaints/{complaint_id}").json(),
        "history": client.get(f"/complaints/{complaint_id}/history").json(),
        "comments": client.get(f"/complaints/{complaint_id}/comments").json(),
        "cloud_events": client.get(
            "/events", params={"after": 0, "aggregate_id": complaint_id}
        ).json()["events"],
    }


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    if out.exists():
        sys.exit(f"{out} exists and stands for stores that exist: name another file")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "complaints.db"
        settings = Settings(
            database_url=f"sqlite:///{db}", secret_key_file=f"{tmp}/secret.key",
            admin_token_file=f"{tmp}/admin-token",
        )
        services = bootstrap(settings)
        app = services.app
        ctx = CommandContext(principal="capture", role="admin", correlation_id="capture")
        token = app.tokens.issue("capture", "supervisor", ctx, teams=("east",)).secret
        with TestClient(create_app(services)) as client:
            client.headers["Authorization"] = f"Bearer {token}"
            full = client.post("/complaints", json=intake()).json()["id"]
            for path, body in [
                ("assign", {"assignee": "li.na", "team": "east", "reason": "region east"}),
                ("comments", {"body": "Replacement on its way", "visibility": "customer"}),
                ("comments", {"body": "Checked stock\nin Shanghai"}),
                ("escalate", {"reason": "VIP, second incident", "level": 2}),
                ("close", {"resolution_code": "remedy_provided", "summary": "Phone exchanged"}),
                ("reopen", {"reason": "Replacement also cracked"}),
            ]:
                client.post(f"/complaints/{full}/{path}", json=body).raise_for_status()
            minimal = client.post(
                "/complaints",
                json=intake(
                    customer={"id": "CUST-2", "name": "Li", "email": "li@example.com"},
                    product={}, attachments=[], occurred_at=None, location=None,
                    expected_remedy=None, region=None,
                ),
            ).json()["id"]
            sparse = str(store_poison(app))
            captured = {name: answers(client, cid) for name, cid in
                        [("full", full), ("minimal", minimal), ("sparse", sparse)]}
        services.close()
        with sqlite3.connect(db) as conn:
            rows = conn.execute(
                "SELECT originator_id, originator_version, topic, state FROM stored_events "
                "WHERE topic NOT LIKE 'aggregates.access_token:%' ORDER BY rowid"
            ).fetchall()
    out.write_text(
        json.dumps(
            {
                "ids": {"full": full, "minimal": minimal, "sparse": sparse},
                "rows": [
                    {"originator_id": r[0], "originator_version": r[1], "topic": r[2],
                     "state": bytes(r[3]).decode()}
                    for r in rows
                ],
                "answers": captured,
            },
            ensure_ascii=False, indent=1,
        )
        + "\n"
    )
    print(f"wrote {len(rows)} rows to {out}")


if __name__ == "__main__":
    main()

"""CPU cost of sealing personal fields: the mapper's encode and decode of a ``Filed`` and a
``Commented`` event, with per-customer data keys and without (the library's mapper), in one
process, keys cached (as in steady state). Deterministic enough to compare on a shared machine,
unlike requests/s.

    uv run python bench/personal_data.py [--rounds 20000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commands.context import CommandContext  # noqa: E402
from commands.models import CommentOnComplaint, FileComplaint  # noqa: E402
from infra.bootstrap import bootstrap  # noqa: E402
from infra.settings import Settings  # noqa: E402
from tests.intake import intake  # noqa: E402


def per_call(call: Callable[[], Any], rounds: int) -> float:
    started = time.process_time()
    for _ in range(rounds):
        call()
    return (time.process_time() - started) / rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as files:
        settings = Settings(
            database_url=f"sqlite:///{files}/bench.db",
            secret_key_file=f"{files}/secret.key",
            admin_token_file=f"{files}/admin-token",
        )
        with bootstrap(settings) as services:
            app, ctx = services.app, CommandContext("bench", "agent", "bench")
            cid = app.file_complaint(FileComplaint(**intake()), ctx).complaint_id
            app.handle(cid, CommentOnComplaint(body="We are looking into it."), ctx)
            events = list(app.events.get(cid))
            cases = {"filed": events[0], "commented": events[-1]}
            mapper, keys = app.mapper, app.mapper.keys
            assert keys is not None
            for name, event in cases.items():
                figures = {}
                for label, attached in (("sealed", keys), ("plain", None)):
                    mapper.keys = attached
                    stored = mapper.to_stored_event(event)
                    encode = per_call(lambda e=event: mapper.to_stored_event(e), args.rounds)
                    decode = per_call(lambda s=stored: mapper.to_domain_event(s), args.rounds)
                    figures[label] = (encode, decode)
                mapper.keys = keys
                (se, sd), (pe, pd) = figures["sealed"], figures["plain"]
                print(
                    f"{name:>9}: encode {se * 1e6:6.1f} us sealed / {pe * 1e6:6.1f} us plain"
                    f" (+{(se - pe) * 1e6:.1f} us), decode {sd * 1e6:6.1f} / {pd * 1e6:6.1f} us"
                    f" (+{(sd - pd) * 1e6:.1f} us)"
                )


if __name__ == "__main__":
    main()

"""A serving process's CPU by part of a request, from a py-spy profile.

Reads a ``py-spy record --gil -f raw`` file (one line per distinct stack: frames separated by
``;``, then a sample count) and puts each sample in the part named by its innermost frame that
matches one of ``PARTS``; a sample matching none is "event loop, asyncio, other". The shares are
of the interpreter's samples (``--gil``: time holding the interpreter lock), so waiting on
PostgreSQL counts nowhere.

    py-spy record --gil -r 100 -d 15 -f raw -o /tmp/api.raw -p <pid of a serve worker>
    uv run python bench/profile_parts.py /tmp/api.raw

(docs/performance.md, "Session 26", took the profile while ``bench/load.py --workers 3
--projections worker --closed 64`` ran.)
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

PARTS: list[tuple[str, re.Pattern[str]]] = [
    (label, re.compile(pattern))
    for label, pattern in [
        ("save: sealing, the hand-off to the group-commit writer, the insert",
         r"^(ComplaintsApp\._save|Application\.save|GroupCommit\.(save_async|_run|_write)) "),
        ("loading the complaint (cache, fast-forward read)",
         r"^(Repository\.get|ComplaintsApp\.get_complaint) "),
        ("reactions: automation rules, repeat-complaint links, routing",
         r"^(react|Automation\.react|RepeatComplaints\.\w+|prior_complaints) |commands/routing"),
        ("response: representing, disclosing by role, JSON",
         r"^(respond|represent|as_json|Reader\.complaint_async) "),
        ("authentication and permission",
         r"^(permit\.<locals>\.check|principal_of|_authenticate) "),
        ("reading and validating the body", r"^(_read_json|ModelField\.validate) "),
        ("the command on the aggregate (domain methods, events)",
         r"^ComplaintsApp\.(_handle|_file|handle_async|file_complaint_async|_run_async) "),
        ("the endpoint and the direct route's glue",
         r"^(Direct(Command|GetOne)\.handle|command_route\.\S+|file_complaint|get_one) "),
        ("middleware and routing", r"^(FastAPI|Starlette)\.__call__ "),
        ("uvicorn's HTTP parsing and sending", r"^(RequestResponseCycle|HttpToolsProtocol)\."),
    ]
]
OTHER = "event loop, asyncio, other"


def part_of(frames: list[str]) -> str:
    """The part of the innermost frame that names one; ``OTHER`` if none does."""
    for frame in reversed(frames):  # "function (path:line)"
        for label, pattern in PARTS:
            if pattern.search(frame):
                return label
    return OTHER


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("raw", help="a py-spy record -f raw file")
    args = parser.parse_args()
    shares: Counter[str] = Counter()
    with open(args.raw) as lines:
        for line in lines:
            stack, _, count = line.rstrip().rpartition(" ")
            if stack:
                shares[part_of(stack.split(";"))] += int(count)
    total = sum(shares.values())
    for label, samples in shares.most_common():
        print(f"{100 * samples / total:5.1f}%  {label}")
    print(f"{total} samples")


if __name__ == "__main__":
    main()

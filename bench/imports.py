"""Import benchmark (issue 13): rows/s importing the 28,156-row CFPB 2015 file on both stores.

    uv run python bench/imports.py [FILE] [--mapping bench/cfpb_2015q1.yaml]
        [--sqlite-dir var/] [--postgres-url postgresql://postgres@127.0.0.1:5432/test]
        [--stores sqlite,postgres] [--batch-size 500]

Each store is fresh: a new SQLite file (deleted after), a new PostgreSQL schema (dropped after).
The import runs as ``complaints import`` does (personal fields sealed with data keys, the whole
validation), timed from the first row read to the last batch committed; bootstrapping the store
is not timed. A second run of the same file (everything skipped) is timed too. Goal: >= 5,000
rows/s on PostgreSQL. Prints the command line and the figures (rows/s, and the CPU seconds
of this Python process: the database server's are not counted).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commands.context import CommandContext  # noqa: E402
from commands.import_mapping import load_mapping  # noqa: E402
from commands.imports import Importer  # noqa: E402
from infra.bootstrap import bootstrap  # noqa: E402
from infra.settings import Settings  # noqa: E402
from infra.spreadsheets import open_sheet  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = Path("shared", "data", "cfpb", "cfpb_complaints_2015q1_partial_columns.csv")
# ../shared beside the checkout (or beside the work-tree folder holding it)
DEFAULT_FILE = next(
    (p / SAMPLE for p in (ROOT.parent, ROOT.parent.parent) if (p / SAMPLE).is_file()),
    ROOT.parent / SAMPLE,
)
DEFAULT_MAPPING = Path(__file__).parent / "cfpb_2015q1.yaml"
ADMIN = CommandContext(principal="bench", role="admin", correlation_id="bench-import")


def run(url: str, folder: Path, sheet: Path, mapping: str, batch_size: int) -> list[str]:
    settings = Settings(
        database_url=url, secret_key_file=str(folder / "secret.key"),
        admin_token_file=str(folder / "admin-token"),
    )
    lines = []
    with bootstrap(settings) as services:
        for attempt in ("first run", "second run (all present)"):
            importer = Importer(
                services.app, load_mapping(mapping), ADMIN, batch_size=batch_size
            )
            started, cpu = time.perf_counter(), time.process_time()
            with open_sheet(sheet) as (header, rows):
                result = importer.run(header, rows)
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
            lines.append(
                f"  {attempt}: {result.rows:,} rows in {seconds:.2f} s = "
                f"{result.rows / seconds:,.0f} rows/s, {cpu:.2f} s CPU in Python (imported "
                f"{result.imported:,}, skipped "
                f"{result.skipped:,}, changed {result.changed:,}, rejected {result.rejected:,})"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--mapping", default=str(DEFAULT_MAPPING))
    parser.add_argument("--sqlite-dir", type=Path, default=None)
    parser.add_argument(
        "--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    print("$ uv run python " + shlex.join(["bench/imports.py", *sys.argv[1:]]))
    print(f"file: {args.file} ({args.file.stat().st_size:,} bytes), mapping: {args.mapping}, "
          f"batch size {args.batch_size}")
    for store in args.stores.split(","):
        with tempfile.TemporaryDirectory(dir=args.sqlite_dir) as folder:
            if store == "sqlite":
                url = f"sqlite:///{Path(folder) / 'bench-imports.db'}"
                print("SQLite (fresh file):")
                print("\n".join(run(url, Path(folder), args.file, args.mapping, args.batch_size)))
                continue
            schema = f"bench_imports_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.postgres_url, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                print(f"PostgreSQL (fresh schema {schema}):")
                url = f"{args.postgres_url}?schema={schema}"
                print("\n".join(run(url, Path(folder), args.file, args.mapping, args.batch_size)))
            finally:
                with psycopg.connect(args.postgres_url, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()

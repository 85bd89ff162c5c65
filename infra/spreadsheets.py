"""Reading a sheet row by row in constant memory: CSV (any of the encodings office software
writes) or XLSX (openpyxl's read-only mode). Yields ``(row number, {column: text})``; the header
is row 1, and a CSV record whose quoted cells span several lines is one row, as a spreadsheet
shows it.

Encodings: UTF-8 (with or without a byte-order mark) and GB18030, which decodes every GBK (and
GB2312) byte sequence: the exports of Chinese office software (WPS, Excel's "CSV" on a Chinese
Windows). Without ``encoding``, the first 64 KiB decide: a BOM says UTF-8, bytes that decode as
UTF-8 say UTF-8 (a GBK text of any length almost never does), otherwise GB18030.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

SNIFF_BYTES = 64 * 1024
XLSX_MAGIC = b"PK\x03\x04"
csv.field_size_limit(16 * 1024 * 1024)  # published narratives are long; the default is 128 KiB

Rows = Iterator[tuple[int, dict[str, str]]]


class SheetError(ValueError):
    """Raised when a file cannot be read as a sheet: no header, an undecodable byte, a broken
    XLSX."""


def detect_encoding(head: bytes) -> str:
    """The encoding of a CSV file starting with ``head`` (see the module docstring)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A sample cut inside a multi-byte character is still UTF-8.
        if error.start < len(head) - 3:
            return "gb18030"
    return "utf-8"


def is_xlsx(path: Path, head: bytes) -> bool:
    return path.suffix.lower() in {".xlsx", ".xlsm"} or head.startswith(XLSX_MAGIC)


@contextmanager
def open_sheet(path: Path, encoding: str | None = None) -> Iterator[tuple[list[str], Rows]]:
    """The header and the rows of the CSV or XLSX file at ``path``, read as they are used."""
    with path.open("rb") as raw:
        head = raw.read(SNIFF_BYTES)
        raw.seek(0)
        if is_xlsx(path, head):
            with _xlsx(raw) as sheet:
                yield sheet
            return
        chosen = encoding or detect_encoding(head)
        if chosen.replace("-", "").replace("_", "").lower() in {"utf8", "utf8sig"}:
            chosen = "utf-8-sig"  # a BOM is never part of the first column's name
        text = io.TextIOWrapper(raw, encoding=chosen, newline="")
        yield _csv(text, chosen)


def _csv(text: IO[str], encoding: str) -> tuple[list[str], Rows]:
    reader = csv.reader(text)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise SheetError("the file is empty: no header row") from None
    except UnicodeDecodeError as error:
        raise SheetError(f"the header is not {encoding}: {error.reason}") from None

    def rows() -> Rows:
        number = 1
        try:
            for cells in reader:
                number += 1
                if not "".join(cells).strip():
                    continue  # a blank line
                yield number, dict(zip(header, cells, strict=False))
        except UnicodeDecodeError as error:
            raise SheetError(
                f"row {number + 1} is not {encoding} ({error.reason}); pass --encoding"
            ) from None

    return header, rows()


@contextmanager
def _xlsx(raw: IO[bytes]) -> Iterator[tuple[list[str], Rows]]:
    from openpyxl import load_workbook  # only when an XLSX comes

    try:
        book = load_workbook(raw, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a broken file
        raise SheetError(f"not a readable XLSX file: {error}") from None
    try:
        sheet = book.worksheets[0]
        values = sheet.iter_rows(values_only=True)
        try:
            header = [_text(v).strip() for v in next(values)]
        except StopIteration:
            raise SheetError("the first sheet is empty: no header row") from None

        def rows() -> Rows:
            for number, cells in enumerate(values, start=2):
                texts = [_text(v) for v in cells]
                if any(t.strip() for t in texts):
                    yield number, dict(zip(header, texts, strict=False))

        yield header, rows()
    finally:
        book.close()


def _text(value: Any) -> str:
    """A cell as text: dates as ISO 8601 (a date cell at midnight as a bare date), integers
    without a decimal point."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)

"""How a spreadsheet's columns become the intake record of an import (docs/imports.md).

A mapping names, for each target field of the record (``TARGETS``), where its value comes from:
a ``column`` (or several: the first the sheet has), optionally translated by a ``values`` table,
by ``contains`` rules (the first keyword found in the cell, case-insensitive), by boolean words,
or a ``default`` when the cell is empty or the column absent. A default (and a ``template``) may
name other columns in braces: ``"cfpb:{Complaint ID}"``. The built-in ``cfpb`` mapping is written
in the same YAML format (``commands/mappings/cfpb.yaml``), so it is also the format's example.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from commands.errors import ImportMappingError

BUILT_IN = Path(__file__).parent / "mappings"

TARGETS = (
    "external_id", "received_at", "channel", "category", "severity", "subject", "description",
    "product", "sub_product", "region", "customer_id", "customer_name", "customer_phone",
    "customer_email", "closed_at",
    "resolution", "summary", "company", "issue", "sub_issue", "state", "zip_code",
    "company_response", "timely_response", "consumer_disputed",
)
"""Every field a mapping may fill; ``external_id``, ``received_at``, ``channel``, ``category``,
``severity``, ``subject``, ``description``, ``customer_id`` and ``customer_name`` are needed."""
REQUIRED = (
    "external_id", "received_at", "channel", "category", "severity", "subject", "description",
    "customer_id", "customer_name",
)
DATES = ("received_at", "closed_at")
BOOLEANS = ("timely_response", "consumer_disputed")
TRUE_WORDS = frozenset({"yes", "y", "true", "1", "是"})
FALSE_WORDS = frozenset({"no", "n", "false", "0", "否"})
UNKNOWN_WORDS = frozenset({"", "n/a", "na", "none", "null", "-"})
_BRACES = re.compile(r"\{([^{}]+)\}")


class CellError(ValueError):
    """Raised when one cell cannot be mapped: ``column``, ``value`` and ``reason`` say why."""

    def __init__(self, column: str, value: str, reason: str) -> None:
        super().__init__(f"{column}: {reason}")
        self.column, self.value, self.reason = column, value, reason


@dataclass(frozen=True)
class FieldRule:
    target: str
    columns: tuple[str, ...] = ()
    values: Mapping[str, Any] | None = None
    """Source value -> target value; a value not in the table is refused (unless a default)."""
    contains: tuple[tuple[str, str], ...] = ()
    default: Any = None
    template: str | None = None

    def column_in(self, header: Sequence[str]) -> str | None:
        return next((c for c in self.columns if c in header), None)


@dataclass(frozen=True)
class ImportMapping:
    name: str
    source: str
    """Stored on each complaint; external ids are unique within a source."""
    rules: Mapping[str, FieldRule]
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    """Where a date or time without an offset is read (its midnight, for a bare date)."""

    def bind(self, header: Sequence[str]) -> BoundMapping:
        """The mapping for a sheet with ``header``; refuses one lacking a needed column."""
        missing = [
            f"{rule.target} ({' or '.join(rule.columns)})"
            for rule in self.rules.values()
            if rule.target in REQUIRED and rule.columns and rule.column_in(header) is None
            and rule.default is None and rule.template is None
        ]
        if missing:
            raise ImportMappingError(
                f"the sheet lacks the column(s) mapping {self.name!r} reads: {', '.join(missing)}"
            )
        return BoundMapping(self, {t: r.column_in(header) for t, r in self.rules.items()})


@dataclass(frozen=True)
class BoundMapping:
    mapping: ImportMapping
    columns: Mapping[str, str | None]
    """Target -> the sheet's column it is read from (None: from the default or template)."""
    _dates: dict[str, datetime] = field(default_factory=dict, repr=False, compare=False)

    def column_of(self, target: str) -> str:
        return self.columns.get(target) or target

    def apply(self, row: Mapping[str, str]) -> dict[str, Any]:
        """The record of one row: target -> value (str, bool, datetime or None). Raises
        ``CellError`` for the first cell that cannot be mapped."""
        record: dict[str, Any] = {}
        for target, rule in self.mapping.rules.items():
            column = self.columns[target]
            raw = (row.get(column) or "").strip() if column else ""
            record[target] = self._value(rule, column or target, raw, row)
        return record

    def _value(self, rule: FieldRule, column: str, raw: str, row: Mapping[str, str]) -> Any:
        target = rule.target
        if rule.template is not None:
            return _fill(rule.template, row)
        if target in BOOLEANS and rule.values is None:
            word = raw.lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
            if word in UNKNOWN_WORDS:
                return None
            raise CellError(column, raw, "is not a yes/no value")
        if not raw:
            return _fill(rule.default, row) if isinstance(rule.default, str) else rule.default
        if rule.values is not None:
            if raw in rule.values:
                return rule.values[raw]
            if rule.default is not None:
                return _fill(rule.default, row) if isinstance(rule.default, str) else rule.default
            known = ", ".join(list(rule.values)[:12])
            raise CellError(column, raw, f"is not in the mapping's table ({known})")
        if rule.contains:
            lowered = raw.lower()
            for keyword, value in rule.contains:
                if keyword in lowered:
                    return value
            return _fill(rule.default, row) if isinstance(rule.default, str) else rule.default
        if target in DATES:
            return self._instant(column, raw)
        return raw

    def _instant(self, column: str, raw: str) -> datetime:
        # Sheets repeat their dates: each distinct text is parsed once (strptime is slow).
        cache: dict[str, datetime] = self._dates
        moment = cache.get(raw)
        if moment is None:
            if len(cache) >= 10_000:
                cache.clear()
            moment = cache[raw] = self._parsed(column, raw)
        return moment

    def _parsed(self, column: str, raw: str) -> datetime:
        for pattern in self.mapping.date_formats:
            try:
                moment = datetime.strptime(raw, pattern)
            except ValueError:
                continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=self.mapping.zone)
            return moment.astimezone(UTC)
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            formats = ", ".join(self.mapping.date_formats)
            raise CellError(column, raw, f"is not a date ({formats} or ISO 8601)") from None
        return (moment if moment.tzinfo else moment.replace(tzinfo=self.mapping.zone)).astimezone(
            UTC
        )


def _fill(text: str | None, row: Mapping[str, str]) -> str | None:
    """``text`` with each ``{Column}`` replaced by that cell (trimmed; empty if absent)."""
    if text is None or "{" not in text:
        return text
    return _BRACES.sub(lambda m: (row.get(m.group(1)) or "").strip(), text)


def load_mapping(name_or_path: str) -> ImportMapping:
    """The built-in mapping ``name`` (``cfpb``) or the YAML mapping file at that path."""
    built_in = BUILT_IN / f"{name_or_path}.yaml"
    path = built_in if built_in.is_file() else Path(name_or_path)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in BUILT_IN.glob("*.yaml")))
        raise ImportMappingError(
            f"no built-in mapping or mapping file {name_or_path!r} (built in: {known})"
        )
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ImportMappingError(f"{path.name} is not valid YAML: {error}") from None
    return parse_mapping(document, path.stem)


def parse_mapping(document: Any, name: str) -> ImportMapping:
    """A mapping from its YAML document (see docs/imports.md for the format)."""
    if not isinstance(document, dict):
        raise ImportMappingError("a mapping is a YAML object with source and fields")
    source = document.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ImportMappingError("source: is required (a short name, e.g. cfpb)")
    fields = document.get("fields")
    if not isinstance(fields, dict):
        raise ImportMappingError("fields: is required (target field -> rule)")
    unknown = sorted(set(fields) - set(TARGETS))
    if unknown:
        raise ImportMappingError(
            f"fields: unknown target(s) {', '.join(unknown)} (known: {', '.join(TARGETS)})"
        )
    rules = {target: _rule(target, spec) for target, spec in fields.items()}
    absent = [t for t in REQUIRED if t not in rules]
    if absent:
        raise ImportMappingError(f"fields: {', '.join(absent)} must be mapped")
    formats = document.get("date_formats", ["%Y-%m-%d"])
    if isinstance(formats, str):
        formats = [formats]
    try:
        zone = ZoneInfo(str(document.get("timezone", "UTC")))
    except (ZoneInfoNotFoundError, ValueError):
        raise ImportMappingError(f"timezone: unknown zone {document.get('timezone')!r}") from None
    return ImportMapping(
        name=name, source=source.strip(), rules=rules,
        date_formats=tuple(str(f) for f in formats), zone=zone,
    )


def _rule(target: str, spec: Any) -> FieldRule:
    if isinstance(spec, str):  # shorthand: just the column
        return FieldRule(target, columns=(spec,))
    if not isinstance(spec, dict):
        raise ImportMappingError(f"fields.{target}: a column name or an object")
    allowed = {"column", "values", "contains", "default", "template"}
    if extra := sorted(set(spec) - allowed):
        raise ImportMappingError(f"fields.{target}: unknown key(s) {', '.join(extra)}")
    column = spec.get("column", ())
    columns = (column,) if isinstance(column, str) else tuple(str(c) for c in column)
    values = spec.get("values")
    if values is not None and not isinstance(values, dict):
        raise ImportMappingError(f"fields.{target}.values: a table of source value -> value")
    contains = spec.get("contains", [])
    if not isinstance(contains, list) or not all(
        isinstance(pair, list | tuple) and len(pair) == 2 for pair in contains
    ):
        raise ImportMappingError(f"fields.{target}.contains: a list of [keyword, value] pairs")
    if not columns and spec.get("default") is None and spec.get("template") is None:
        raise ImportMappingError(f"fields.{target}: needs a column, a default or a template")
    return FieldRule(
        target,
        columns=columns,
        values=None if values is None else {str(k): v for k, v in values.items()},
        contains=tuple((str(k).lower(), str(v)) for k, v in contains),
        default=spec.get("default"),
        template=spec.get("template"),
    )

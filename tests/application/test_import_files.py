"""Imports from files of every kind the issue names (both stores): broken rows reported one by
one (row, column, value, reason), GBK with a YAML mapping, UTF-8 with a BOM, XLSX; a changed row
reported, not recorded again."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

from openpyxl import Workbook

from aggregates.complaint import Complaint
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.imports import RowError, imported_id
from infra.import_jobs import import_file

ADMIN = CommandContext(principal="importer", role="admin", correlation_id="corr-import")
EXAMPLE_MAPPING = Path(__file__).parents[2] / "docs" / "examples" / "mapping.yaml"
HEADER = [
    "Date received", "Product", "Sub-product", "Issue", "Sub-issue",
    "Consumer complaint narrative", "Company public response", "Company", "State", "ZIP code",
    "Tags", "Consumer consent provided?", "Submitted via", "Date sent to company",
    "Company response to consumer", "Timely response?", "Consumer disputed?", "Complaint ID",
]


def cfpb_row(complaint_id: str, **changes: str) -> dict[str, str]:
    row = {
        "Date received": "2019-05-02", "Product": "Mortgage", "Sub-product": "FHA mortgage",
        "Issue": "Trouble during payment process", "Sub-issue": "", "Company": "Bank A",
        "Consumer complaint narrative": "They lost my payment.\nTwice.", "State": "CA",
        "ZIP code": "90001", "Submitted via": "Web", "Date sent to company": "2019-05-03",
        "Company response to consumer": "Closed with explanation", "Timely response?": "Yes",
        "Consumer disputed?": "N/A", "Complaint ID": complaint_id,
    }
    return {name: row.get(name, "") for name in HEADER} | changes


def write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def event_count(app: ComplaintsApp) -> int:
    return len(app.recorder.select_notifications(1, 100_000))


def test_each_broken_row_is_reported_precisely(app: ComplaintsApp, tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "broken.csv", [
        cfpb_row("1"),
        cfpb_row("2", **{"Date received": "2019-13-45"}),
        cfpb_row("3", **{"Submitted via": "Carrier pigeon"}),
        cfpb_row("4", Issue=""),
        cfpb_row("5", **{"Date sent to company": "2019-04-01"}),
        cfpb_row("6", **{"Date received": "2099-01-01", "Date sent to company": "2099-01-02"}),
        cfpb_row("7", **{"Timely response?": "Perhaps"}),
        cfpb_row("8"),
    ])
    result = import_file(app, sheet, "cfpb", ADMIN)
    assert (result.rows, result.imported, result.rejected) == (8, 2, 6)
    assert result.errors == [
        RowError(3, "Date received", "2019-13-45",
                 "is not a date (%Y-%m-%d, %m/%d/%Y or ISO 8601)"),
        RowError(4, "Submitted via", "Carrier pigeon", result.errors[1].reason),
        RowError(5, "Issue", "", "is required"),
        RowError(6, "Date sent to company", "2019-04-01T00:00:00+00:00",
                 "is before the complaint was received"),
        RowError(7, "Date received", "2099-01-01T00:00:00+00:00", "is in the future"),
        RowError(8, "Timely response?", "Perhaps", "is not a yes/no value"),
    ]
    assert result.errors[1].reason.startswith("is not in the mapping's table (Web, Phone")
    assert sum(result.rejected_by_reason.values()) == 6
    assert event_count(app) == 2 * 4  # Filed, Imported, Closed and the reference index


def test_an_imported_complaint_keeps_source_fields_and_business_times(
    app: ComplaintsApp, tmp_path: Path
) -> None:
    sheet = write_csv(tmp_path / "one.csv", [cfpb_row("3195040")])
    assert import_file(app, sheet, "cfpb", ADMIN).imported == 1
    complaint = app.get_complaint(imported_id("cfpb", "3195040"))
    assert complaint.received_at == datetime(2019, 5, 2, tzinfo=UTC)
    assert complaint.closed_at == datetime(2019, 5, 3, tzinfo=UTC)
    assert complaint.filed_at > datetime(2020, 1, 1, tzinfo=UTC)  # recorded now
    assert (complaint.channel, complaint.category, complaint.region) == ("web", "billing", "CA")
    assert complaint.description == "They lost my payment.\nTwice."  # a quoted newline
    assert complaint.customer.id == "cfpb:3195040" and complaint.customer.phone is None
    assert complaint.origin is not None and complaint.origin.external_id == "3195040"
    assert complaint.resolution_code == "resolved" and complaint.sla is None
    imported = next(e for e in app.events.get(complaint.id) if isinstance(e, Complaint.Imported))
    assert (imported.company, imported.timely_response, imported.consumer_disputed) == (
        "Bank A", True, None
    )


def test_a_changed_row_is_reported_not_recorded_again(app: ComplaintsApp, tmp_path: Path) -> None:
    import_file(app, write_csv(tmp_path / "a.csv", [cfpb_row("1"), cfpb_row("2")]), "cfpb", ADMIN)
    before = event_count(app)
    again = write_csv(tmp_path / "b.csv", [cfpb_row("1"), cfpb_row("2", Company="Bank B")])
    result = import_file(app, again, "cfpb", ADMIN)
    assert (result.imported, result.skipped, result.changed) == (0, 1, 1)
    assert (result.changed_rows[0].row, result.changed_rows[0].external_id) == (3, "2")
    assert event_count(app) == before


def test_a_bom_file_reads_its_first_column(app: ComplaintsApp, tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "bom.csv", [cfpb_row("1"), cfpb_row("2")], "utf-8-sig")
    assert sheet.read_bytes().startswith(b"\xef\xbb\xbf")
    assert import_file(app, sheet, "cfpb", ADMIN).imported == 2


GBK_ROWS = [
    {"工单号": "GD-001", "受理时间": "2024/03/01 09:30", "渠道": "电话", "类别": "质量",
     "等级": "紧急", "标题": "手机屏幕碎裂", "描述": "收到时屏幕已碎", "产品": "X9 手机",
     "区域": "华东", "客户编号": "KH-88", "客户姓名": "张伟", "结案时间": "2024/03/02 10:00",
     "处理结果": "已解决", "是否及时": "是"},
    {"工单号": "GD-002", "受理时间": "2024/03/05 14:00", "渠道": "微信", "类别": "包装",
     "等级": "", "标题": "快递延误", "描述": "", "产品": "K2 耳机", "区域": "华南",
     "客户编号": "KH-89", "客户姓名": "李娜", "结案时间": "", "处理结果": "处理中",
     "是否及时": "否"},
]


def test_a_gbk_sheet_with_a_yaml_mapping(app: ComplaintsApp, tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "台账.csv", GBK_ROWS, "gbk")
    result = import_file(app, sheet, str(EXAMPLE_MAPPING), ADMIN)
    assert (result.imported, result.rejected) == (2, 0), result.errors
    first = app.get_complaint(imported_id("crm-2024", "GD-001"))
    assert (first.subject, first.customer.name, first.channel, first.severity) == (
        "手机屏幕碎裂", "张伟", "phone", "high"
    )
    assert first.received_at == datetime(2024, 3, 1, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
    assert first.is_closed
    second = app.get_complaint(imported_id("crm-2024", "GD-002"))
    assert (second.category, second.severity, second.description) == ("other", "medium", "快递延误")
    assert not second.is_closed


def test_an_xlsx_sheet(app: ComplaintsApp, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for n in (1, 2, 3):
        row = cfpb_row(str(n))
        cells: list[object] = [row[name] for name in HEADER]
        cells[0] = datetime(2019, 5, n)  # a date cell, as a spreadsheet holds it
        cells[-1] = n  # a number cell
        sheet.append(cells)
    book.save(tmp_path / "sheet.xlsx")
    result = import_file(app, tmp_path / "sheet.xlsx", "cfpb", ADMIN)
    assert (result.imported, result.rejected) == (3, 0), result.errors
    third = app.get_complaint(imported_id("cfpb", "3"))
    assert third.received_at == datetime(2019, 5, 3, tzinfo=UTC)

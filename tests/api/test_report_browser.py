"""The summary report's page in a real headless browser (Debian's chromium, driven by playwright):
it draws every chart from the inline plotly.js with the network cut off, logs no console error,
requests nothing that fails, shows Chinese product names and user-controlled text as text, and
leaves a screenshot at ``$COMPLAINTS_TEST_ARTIFACTS/report.png`` (default
``build/artifacts/report.png``, git-ignored). Not a storage test: the report is made in memory."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from api.report_html import charts, render_report
from projections.analytics import MEASURES
from queries.analytics import Figures, Group, figures
from queries.report import ProductCount, SummaryReport, distribution

CHROMIUM = os.environ.get("COMPLAINTS_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get("COMPLAINTS_TEST_ARTIFACTS")
    or Path(__file__).resolve().parents[2] / "build" / "artifacts"
)
EVIL = "<script>window.pwned = 1</script>"
EVIL_IMAGE = '<img src=x onerror="window.pwned = 2">'


def group(key: str | None, filed: int, closed: int = 0, met: int = 0, counted: int = 0) -> Group:
    sums = dict.fromkeys(MEASURES, 0)
    sums.update(filed=filed, closed=closed, resolution_ms=closed * 36_000_000,
                first_response_sla_met=met, first_response_sla_counted=counted,
                resolution_sla_met=max(0, met - 1), resolution_sla_counted=counted)
    return Group(key=key, **figures(sums))


def sample_report() -> SummaryReport:
    first = date(2026, 10, 1)
    periods = [
        group((first + timedelta(days=n)).isoformat(), 20 + (n * 7) % 13, 15 + (n * 5) % 11,
              met=8 + n % 3, counted=10)
        for n in range(30)
    ]
    totals = Figures(**group(None, sum(p.filed for p in periods),
                             sum(p.closed for p in periods), 250, 300).model_dump(exclude={"key"}))
    hours = [0.3, 0.8, 2, 3, 5, 7, 10, 20, 30, 50, 60, 80, 200, 400, 800] * 5
    return SummaryReport(
        from_=first, to=first + timedelta(days=29), zone="Asia/Shanghai",
        generated_at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC), group_by="day",
        totals=totals, periods=periods,
        categories=[group("product_quality", 300), group("logistics", 180),
                    group("service_attitude", 90), group("billing", 40), group("other", 10)],
        channels=[group("web", 250), group("wechat", 160), group("phone", 120),
                  group("mini_program", 60), group("email", 30)],
        first_response=distribution([h * 3600 for h in hours]),
        resolution=distribution([h * 3600 * 3 for h in hours]),
        top_products=[ProductCount(product=name, filed=filed) for name, filed in (
            ("扫地机器人 X9", 120), ("智能手表 S3", 80), (EVIL, 40), (EVIL_IMAGE, 20),
            ("X9 phone", 15), (None, 5),
        )],
    )


def test_the_page_draws_every_chart_offline(tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    report = sample_report()
    page_file = tmp_path / "report.html"
    page_file.write_text(render_report(report), encoding="utf-8")
    expected = len(charts(report))
    problems: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            context = browser.new_context(offline=True, viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))
            page.on("request", lambda r: None if r.url.startswith(("file:", "data:"))
                    else problems.append(f"network request: {r.url}"))
            page.goto(page_file.as_uri(), wait_until="load")
            page.wait_for_function(
                "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n",
                arg=expected, timeout=20_000,
            )
            drawn = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')]
                .map(div => ({id: div.id, svg: div.querySelectorAll('svg.main-svg').length,
                              marks: div.querySelectorAll('.bars path, .scatterlayer path.js-line,'
                                + ' .pielayer path.surface').length}))""")
            ticks = page.evaluate("""() => [...document.querySelectorAll('#chart-7 .ytick text')]
                .map(t => t.textContent)""")
            pwned = page.evaluate("() => window.pwned === undefined ? null : window.pwned")
            cjk = page.evaluate("() => document.fonts.check('16px sans-serif', '扫地机器人')")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = ARTIFACTS / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
        finally:
            browser.close()
    assert problems == []
    assert len(drawn) == expected and all(d["svg"] > 0 and d["marks"] > 0 for d in drawn), drawn
    # User-controlled text shows as text, runs nothing.
    assert pwned is None
    assert {"扫地机器人 X9", EVIL, EVIL_IMAGE, "(no product)"} <= set(ticks), ticks
    assert cjk

"""Benchmark: the web pages, the EHE worklist, the sharing report and a subject access export.

Builds an index from a synthetic population (BENCH_WEB_CHILDREN, default 5000; SQLite in a
temporary folder unless BENCH_INDEX_URL names an empty database), then prints: the worklist's
build time and size; the audited worklist page over HTTP; sequential summary lookups through
the web form (p50, p95, p99, per second); the sharing report (build, HTML, PDF); and one
subject access export.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from workspace import temporary_gateway

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
SOURCES = (
    "education__ehe_register",
    "education__ctf",
    "health__fhir_patient",
    "social_care__case_db",
)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _lookups(client: httpx.Client, child_ids: list[str]) -> list[float]:
    token_match = re.search(r'name="csrf" value="([^"]+)"', client.get("/search").text)
    assert token_match
    token = token_match.group(1)
    times = []
    for child_id in child_ids:
        started = time.perf_counter()
        response = client.post(
            "/summary", data={"identifier": child_id, "purpose": "ehe_enquiry", "csrf": token}
        )
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
    return times


def main() -> None:
    children = int(os.environ.get("BENCH_WEB_CHILDREN", "5000"))
    with temporary_gateway(os.environ.get("BENCH_INDEX_URL")) as (root, url):
        from web_support import served

        from gateway.access.audit import Actor
        from gateway.api.app import create_app
        from gateway.lookup.caseload import ehe_caseload
        from gateway.pipeline import ingest, link_children
        from gateway.reports.sharing import build_sharing_report
        from gateway.reports.sharing_render import print_pdf, render_html
        from gateway.reports.subject_access import audited_subject_access
        from gateway.store.engine import session_factory
        from gateway.store.migrate import upgrade
        from gateway.synth import generate

        generate(children, 3, root / "inbox")
        upgrade(url)
        for source in SOURCES:
            ingest(source)
        link_children()
        print(f"web benchmark: {children} children in the population, index {url.split(':')[0]}")

        with session_factory()() as session:
            started = time.perf_counter()
            entries = ehe_caseload(session, today=datetime.now(UTC).date())
            took = time.perf_counter() - started
        print(f"  worklist (core): {len(entries)} children on the caseload in {took:.2f} s")

        app = create_app(demo_mode=True)  # signs in as a demo user, on loopback
        with served(app) as base, httpx.Client(base_url=base, timeout=120) as client:
            client.post("/sign-in", data={"user": "erin.ehe"})
            started = time.perf_counter()
            assert client.get("/worklist").status_code == 200
            took = time.perf_counter() - started
            print(f"  worklist page (with {len(entries)} audit entries): {took:.2f} s")
            ids = [e.child_id for e in entries][:200]
            times = _lookups(client, ids)
            p50, p95, p99 = (_percentile(times, q) * 1000 for q in (0.5, 0.95, 0.99))
            print(
                f"  summary via the web form, sequential, {len(times)} lookups: p50 {p50:.1f} ms, "
                f"p95 {p95:.1f} ms, p99 {p99:.1f} ms, {len(times) / sum(times):.0f}/s "
                f"(mean {statistics.mean(times) * 1000:.1f} ms)"
            )

        today = datetime.now(UTC).date()
        with session_factory()() as session:
            started = time.perf_counter()
            report = build_sharing_report(session, today, today)
            built = time.perf_counter() - started
            started = time.perf_counter()
            html = render_html(report)
            cold = time.perf_counter() - started
            started = time.perf_counter()
            html = render_html(report)
            rendered = time.perf_counter() - started
            ig = Actor("ig@la.example", "LA", "ig_officer")
            started = time.perf_counter()
            export = audited_subject_access(session, ig, entries[0].child_id)
            sar_s = time.perf_counter() - started
        html_path = root / "sharing.html"
        html_path.write_text(html)
        started = time.perf_counter()
        print_pdf(html_path, root / "sharing.pdf")
        pdf_s = time.perf_counter() - started
        print(
            f"  sharing report over {report.requests} requests: build {built:.2f} s, "
            f"HTML {rendered:.2f} s ({cold:.2f} s with matplotlib's import), PDF {pdf_s:.2f} s"
        )
        print(
            f"  subject access export: {len(export['source_records'])} record versions, "
            f"{len(export['disclosures'])} disclosures in {sar_s * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()

"""The subject access export as a readable document (HTML, and a PDF of it) beside the JSON.

The same export (``subject_access_export``) in sections with plain headings: each row of the
index is a list of its fields, nested values (a record's canonical content) as indented text.
The notice that it is personal data, to review and redact before release, heads every copy.
"""

from __future__ import annotations

import json
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import jinja2

from gateway.glossary import long_date, words
from gateway.reports.pdf import print_pdf
from gateway.reports.sharing_render import TEMPLATES

SECTIONS = {
    "children": "The child in the index (and any child ids merged into it)",
    "links": "Agencies' records linked to the child, and why",
    "link_history": "Every change to those links",
    "source_records": "Every version of every linked record",
    "link_reviews": "Reviews of possible matches that touched these records",
    "quarantine": "Records held for quality that carry the child's records or identifiers",
    "disclosures": "Every lookup, search and export that named the child (the audit log)",
}


def _shown(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, ensure_ascii=False)
    return "" if value is None else str(value)


def render_html(export: dict[str, Any]) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["shown"] = _shown
    environment.filters["words"] = words
    return environment.get_template("subject_access.html").render(
        export=export,
        sections=SECTIONS,
        generated=long_date(export["generated_at"][:16]) + " UTC",
    )


def render_pdf(export: dict[str, Any]) -> bytes:
    """The readable document printed by chromium, with its title and page numbers."""
    with TemporaryDirectory(prefix="subject-access-") as folder:
        html = Path(folder) / "subject-access.html"
        html.write_text(render_html(export), encoding="utf-8")
        pdf = print_pdf(
            html,
            Path(folder) / "subject-access.pdf",
            margin_mm=(18, 18, 12, 12),
            title=f"Subject access export: child {export['child_id']} (personal data)",
        )
        return pdf.read_bytes()

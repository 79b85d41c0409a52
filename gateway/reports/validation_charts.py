"""Charts for the validation report: matplotlib drawn to inline SVG (no files, no scripts)."""

from __future__ import annotations

import io
import re
from typing import Any

from gateway.reports.validation_data import SourceSection

LOADED, QUARANTINED, REJECTED = "#00703c", "#f47738", "#d4351c"  # GOV.UK green, orange, red
FONT: dict[str, Any] = {"font.family": "DejaVu Sans", "font.size": 11, "svg.fonttype": "path"}


def _svg(figure: Any, title: str) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{title}" ', 1)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.style.use(FONT)
    return plt


def outcome_by_source(sections: list[SourceSection]) -> str:
    """One bar per source: records loaded, quarantined and rejected over every run."""
    plt = _pyplot()
    names = [s.source.replace("__", ": ").replace("_", " ") for s in sections]
    loaded = [s.total("loaded") for s in sections]
    held = [s.total("quarantined") for s in sections]
    rejected = [s.total("rejected") for s in sections]
    figure, axes = plt.subplots(figsize=(9, 0.6 * len(sections) + 1.4))
    axes.barh(names, loaded, color=LOADED, label="loaded")
    axes.barh(names, held, left=loaded, color=QUARANTINED, label="quarantined (held for review)")
    lefts = [a + b for a, b in zip(loaded, held, strict=True)]
    axes.barh(names, rejected, left=lefts, color=REJECTED, label="rejected")
    axes.invert_yaxis()
    axes.set_xlabel("records received")
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure, "Records received per source, by what happened to them")


def runs_trend(section: SourceSection) -> str:
    """One bar per run of a source: loaded, quarantined and rejected, oldest first."""
    plt = _pyplot()
    labels = [f"{r.received_at:%d %b %H:%M}" for r in section.runs]
    positions = list(range(len(labels)))
    loaded = [r.loaded for r in section.runs]
    held = [r.quarantined for r in section.runs]
    rejected = [r.rejected for r in section.runs]
    stopped = [r.gated for r in section.runs]
    figure, axes = plt.subplots(figsize=(9, 3))
    width = 0.6 if len(positions) > 2 else 0.35
    axes.bar(positions, loaded, width, color=LOADED, label="loaded")
    axes.bar(positions, held, width, bottom=loaded, color=QUARANTINED, label="quarantined")
    tops = [a + b for a, b in zip(loaded, held, strict=True)]
    axes.bar(positions, rejected, width, bottom=tops, color=REJECTED, label="rejected")
    if any(stopped):
        axes.bar(positions, stopped, width, color="#b1b4b6", hatch="//", label="stopped")
    axes.set_xlim(-0.75, max(len(positions), 3) - 0.25)
    axes.set_xticks(positions, labels, rotation=30 if len(labels) > 4 else 0, ha="right")
    axes.set_ylabel("records")
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure, f"Records per delivery for {section.source}, oldest first")

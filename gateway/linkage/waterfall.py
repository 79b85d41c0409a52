"""A match-weight waterfall, drawn as Splink draws one: the prior, then each comparison's
weight stacked on the running total, then the final weight and its probability.

Only weights and comparison names go in the chart (no values), so it can be shared.
"""

from __future__ import annotations

from pathlib import Path

from gateway.linkage.review import ReviewDetail


def waterfall_steps(detail: ReviewDetail) -> list[tuple[str, float, float]]:
    """(label, start, weight) for each bar: prior, comparisons in order, then the total."""
    weights = detail.item.match_weights
    steps = [("prior", 0.0, detail.prior)]
    running = detail.prior
    for name, weight in weights.items():
        if name == "prior":
            continue
        steps.append((name, running, float(weight)))
        running += float(weight)
    steps.append(("final score", 0.0, running))
    return steps


def render_waterfall(detail: ReviewDetail, path: Path) -> Path:
    """Write the chart to ``path`` (.svg or .png, by its suffix)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = waterfall_steps(detail)
    figure, axes = plt.subplots(figsize=(8, 4.5))
    for n, (label, start, weight) in enumerate(steps):
        colour = "#1d70b8" if label == "final score" else "#00703c" if weight >= 0 else "#d4351c"
        axes.bar(n, weight, bottom=start, color=colour)
        axes.annotate(f"{weight:+.2f}", (n, start + weight), ha="center", va="bottom", fontsize=8)
    axes.axhline(0, color="#0b0c0c", linewidth=0.8)
    axes.set_xticks(range(len(steps)), [s[0] for s in steps], rotation=30, ha="right")
    axes.set_ylabel("match weight (log2 Bayes factor)")
    probability = detail.item.probability
    axes.set_title(f"review {detail.item.id}: match probability {probability:.4f}")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format=path.suffix.lstrip(".").lower() or "svg")
    plt.close(figure)
    return path

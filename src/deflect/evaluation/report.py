"""Markdown and self-contained HTML reports with matplotlib plots (embedded as base64 PNG in the HTML)."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402

from deflect.evaluation.metrics import recall_at_k, risk_coverage_curve  # noqa: E402

HEADLINE = (
    "recall@1",
    "recall@5",
    "mrr@10",
    "ndcg@10",
    "citation_precision",
    "citation_recall",
    "answer_support",
    "fact_recall",
    "deflection_rate",
    "escalation_precision",
    "escalation_recall",
    "wrong_answer_rate",
    "correct_answer_rate",
    "auroc",
    "coverage@5%risk",
    "coverage@10%risk",
    "latency_p50_ms",
    "latency_p95_ms",
)


def fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"
    return str(value)


def plots(
    rows: Sequence[dict[str, Any]],
    retrieved: Sequence[Sequence[str]],
    expected: Sequence[Sequence[str]],
    out: Path,
) -> list[Path]:
    """Write the four plots and return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    conf = [r["confidence"] for r in rows]
    right = [int(r["would_be_right"]) for r in rows]

    fig, ax = plt.subplots(figsize=(5, 4))
    curve = risk_coverage_curve(conf, right)
    # The points as data too: `deflect eval-suite` draws every set's curve on one plot.
    (out / "risk_coverage.json").write_text(
        json.dumps([{"threshold": t, "coverage": c, "risk": r} for t, c, r in curve]) + "\n", encoding="utf-8"
    )
    ax.plot([c for _, c, _ in curve], [r for _, _, r in curve], marker=".")
    ax.axhline(0.05, ls="--", c="grey", lw=0.8)
    ax.set(
        xlabel="coverage (correct answers / answerable)",
        ylabel="risk (wrong / answered)",
        title="Risk-coverage",
    )
    paths.append(_save(fig, out / "risk_coverage.png"))

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.hist(
        [c for c, r in zip(conf, rows, strict=True) if r["answerable"]],
        bins=20,
        range=(0, 1),
        alpha=0.6,
        label="answerable",
    )
    ax.hist(
        [c for c, r in zip(conf, rows, strict=True) if not r["answerable"]],
        bins=20,
        range=(0, 1),
        alpha=0.6,
        label="should escalate",
    )
    ax.set(xlabel="confidence", ylabel="cases", title="Confidence by case type")
    ax.legend()
    paths.append(_save(fig, out / "confidence_hist.png"))

    fig, ax = plt.subplots(figsize=(5, 4))
    ks = list(range(1, 11))
    values = []
    for k in ks:
        scored = [recall_at_k(r, e, k) for r, e in zip(retrieved, expected, strict=True) if e]
        values.append(sum(s for s in scored if s is not None) / max(1, len(scored)))
    ax.plot(ks, values, marker="o")
    ax.set(xlabel="k", ylabel="recall@k", ylim=(0, 1.02), title="Retrieval recall@k")
    paths.append(_save(fig, out / "recall_at_k.png"))

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.hist([r["latency_ms"] for r in rows], bins=30)
    ax.set(xlabel="latency (ms)", ylabel="cases", title="Answer latency")
    paths.append(_save(fig, out / "latency.png"))
    return paths


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def markdown(
    title: str,
    stamp: dict[str, Any],
    overall: dict[str, Any],
    tags: dict[str, dict[str, Any]],
    extra: dict[str, dict[str, Any]],
    images: Sequence[Path],
) -> str:
    """The Markdown report."""
    lines = [f"# {title}", "", "| stamp | value |", "|---|---|"]
    lines += [f"| {k} | `{v}` |" for k, v in stamp.items()]
    lines += ["", "## Overall", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {fmt(overall.get(k))} |" for k in ("cases", *HEADLINE)]
    for name, table in extra.items():
        variant_cols = sorted({c for row in table.values() for c in row})
        lines += [
            "",
            f"## {name}",
            "",
            "| variant | " + " | ".join(variant_cols) + " |",
            "|---" * (len(variant_cols) + 1) + "|",
        ]
        lines += [f"| {v} | " + " | ".join(fmt(row.get(c)) for c in variant_cols) + " |" for v, row in table.items()]
    cols = (
        "cases",
        "recall@1",
        "mrr@10",
        "deflection_rate",
        "escalation_recall",
        "wrong_answer_rate",
        "fact_recall",
    )
    lines += ["", "## Per tag", "", "| tag | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += [f"| {t} | " + " | ".join(fmt(m.get(c)) for c in cols) + " |" for t, m in tags.items()]
    lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in images]
    lines += [
        "",
        "Answer support is checked by token overlap: a sentence counts as supported when at least 80% of "
        "its content words occur in the sources its markers cite.",
    ]
    return "\n".join(lines) + "\n"


def to_html(md_text: str, images: Sequence[Path]) -> str:
    """A self-contained HTML page: tables rendered, plots inlined as base64."""
    body = []
    in_table = False
    for line in md_text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= {"-"}:
                continue
            if not in_table:
                body.append("<table>")
                in_table = True
            body.append("<tr>" + "".join(f"<td>{html.escape(c.strip('`'))}</td>" for c in cells) + "</tr>")
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        if line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("!["):
            name = line[line.index("(") + 1 : -1]
            img = next((p for p in images if p.name == name), None)
            if img is not None:
                data = base64.b64encode(img.read_bytes()).decode()
                body.append(f'<img alt="{html.escape(img.stem)}" src="data:image/png;base64,{data}">')
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    if in_table:
        body.append("</table>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
        "td{border:1px solid #ccc;padding:2px 8px}img{max-width:48%;margin:4px}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>deflect eval</title>"
        + f"<style>{style}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )

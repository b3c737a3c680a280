"""Confidence candidates side by side: each feature set self-calibrated on the same KB probes, scored on the
same eval cases (nothing fitted on the cases). The shipped set is chosen from this table (docs/confidence.md)."""

from __future__ import annotations

from collections.abc import Sequence

from deflect.answer.confidence import FEATURES
from deflect.calibrate.fit import Sample, risk_coverage
from deflect.calibrate.selfcal import fit
from deflect.domain.text import clean_text
from deflect.evaluation.calibration import RISK_TAGS
from deflect.evaluation.golden import GoldenCase
from deflect.evaluation.metrics import auroc, coverage_at_risk, risk_coverage_curve
from deflect.service import DeflectService

CANDIDATES: dict[str, tuple[str, ...]] = {
    "top cosine": ("top_dense",),
    "legacy (cosine, fused, margin, overlap)": ("top_dense", "top_score", "margin", "overlap"),
    "legacy, margin to a distinct source (shipped)": ("top_dense", "top_score", "margin_distinct", "overlap"),
    "legacy, distinct margin, quoted overlap": ("top_dense", "top_score", "margin_distinct", "overlap_quoted"),
    "cosine, fused, distinct margin, spread": ("top_dense", "top_score", "margin_distinct", "spread"),
    "cosine, spread": ("top_dense", "spread"),
    "all features": FEATURES,
}


def compare(
    service: DeflectService, cases: Sequence[GoldenCase], samples: Sequence[Sample], target_risk: float
) -> dict[str, dict[str, float | None]]:
    """Per candidate: AUROC, coverage at 5% risk, and at the threshold it picks itself: right answers among
    answerable cases, wrong among answers, escalated among cases that should escalate."""
    scored = [c for c in cases if not RISK_TAGS & set(c.tags)]
    rows = []
    for case in scored:
        # Cleaned as `ask` cleans it (NFC, no invisible characters), so the table scores the question `ask` sees.
        hits, feats = service.evidence(clean_text(case.question), case.audience)
        right = (not case.should_escalate) and bool(hits) and hits[0].source_id in set(case.expected_sources)
        rows.append((feats, int(right), case.should_escalate))
    answerable = sum(1 for _, _, esc in rows if not esc) or 1
    unanswerable = sum(1 for _, _, esc in rows if esc)
    table: dict[str, dict[str, float | None]] = {}
    for name, names in CANDIDATES.items():
        cal = fit(samples, "candidate", target_risk, names)
        conf = [cal.confidence(f) for f, _, _ in rows]
        labels = [r for _, r, _ in rows]
        answered = [
            (r, esc)
            for c, (f, r, esc) in zip(conf, rows, strict=True)
            if c >= cal.threshold and f["top_dense"] >= cal.relevance_floor
        ]
        risk, _, _ = risk_coverage([1.0] * len(answered), [r for r, _ in answered], 0.5)
        table[name] = {
            "AUROC": auroc(conf, labels),
            "cov@5%": coverage_at_risk(risk_coverage_curve(conf, labels), 0.05),
            "right/answerable": sum(r for r, _ in answered) / answerable,
            "wrong/answers": risk if answered else None,
            "unanswerable escalated": (
                (unanswerable - sum(1 for _, esc in answered if esc)) / unanswerable if unanswerable else None
            ),
        }
    return table

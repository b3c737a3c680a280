"""Self-calibration: fit the confidence model and the answer threshold on the user's own knowledge base.

The calibration set is made from the KB (see `probes`), each probe asked twice against the live index:
- **in the index**: right when the top source is the probe's source or a near-duplicate of it (a source with a
  title, heading or question that says the same as the probe, cosine >= DUPLICATE_COSINE), a source whose own
  title and heading path hold every content word of the probe (it poses the same question: `probes.carried_by`),
  or any source that would quote nearly the same text (see below) — an article and the resolved escalation that
  repeats it, or a manual's overview page repeating a section, are all right answers;
- **left out**: the probe's source and its near-duplicates are removed from the candidates, as if the KB did not
  cover the question; an answer from another source is then right only when what it would quote is nearly the
  same text as the left-out source's quote (SAME_ANSWER_COSINE between the two extractive answers), wrong when the
  two quotes are unrelated, and undecidable (not used) in between — pessimistic when another page answers
  in other words, so it errs towards escalating; undecidable too when the new top source is one that poses the
  probe as well (it stays in the candidates: removing it was measured and moved two sets the wrong way,
  docs/confidence.md session 9);
plus out-of-domain questions shipped with deflect (always wrong to answer). Leaving out is done on the retrieved
candidates (dense and keyword lists, BM25 renormalised), which equals re-querying an index without those
sources, without re-indexing anything.

The model is fitted on all samples; the threshold is chosen on out-of-fold confidences (2 folds, split by source)
so that it is not picked on the very predictions it was fitted to; the report gives both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from deflect.answer.confidence import Calibration, features
from deflect.answer.extractive import ExtractiveGenerator
from deflect.calibrate.fit import (
    Sample,
    bootstrap_thresholds,
    fit_logistic,
    fold_of,
    modelled_risk_threshold,
    risk_coverage,
)
from deflect.calibrate.probes import Probe, carried_by, out_of_domain, probes_from_chunks, sample, signposts
from deflect.calibrate.scale import measure as measure_scale
from deflect.calibrate.traffic import TRAFFIC_KIND
from deflect.domain.cosine import CosineScale
from deflect.domain.models import Chunk, ScoredChunk, SourceHit
from deflect.domain.ports import Embedder
from deflect.ingest.chunking import QUESTION_HEADING
from deflect.retrieval.hybrid import HybridRetriever, fuse, rank_sources

DUPLICATE_COSINE = 0.8
# A left-out probe answered by another source is right when that source quotes nearly the same text: the KB says
# it twice (an article and the escalation that repeats it). Below this it counts as wrong.
SAME_ANSWER_COSINE = 0.8
# Between this and SAME_ANSWER_COSINE the new top source says something related (MiniLM cosine 0.5 is "same topic"):
# it may answer in other words or not, so the probe is neither right nor wrong and is not used (docs/confidence.md).
UNDECIDABLE_COSINE = 0.5
# What a source would quote for a probe: the extractive answer from that source alone (no model, a few ms).
_QUOTER = ExtractiveGenerator(max_sources=1)
RETRIEVE_K = 10
# The features shipped; chosen by measurement (docs/confidence.md), not per KB.
SHIPPED_FEATURES = ("top_dense", "top_score", "margin_distinct", "overlap")
MIN_SAMPLES = 20
# Resamples of the probes behind the reported spread of the threshold (5th, 50th, 95th percentile): < 0.1 s.
SPREAD_RESAMPLES = 100
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SelfCalibrationSettings:
    target_risk: float = 0.05
    max_probes: int = 400
    features: tuple[str, ...] = SHIPPED_FEATURES
    uncovered_share: float | None = 0.25


def kb_fingerprint(chunks: Sequence[Chunk]) -> dict[str, str]:
    """source id -> content hash of what is indexed."""
    return {c.source_id: c.source_hash for c in chunks}


def kb_hash(sources: dict[str, str]) -> str:
    """One hash of the whole KB's content."""
    blob = "\n".join(f"{k}\t{v}" for k, v in sorted(sources.items()))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def changed_share(old: dict[str, str], new: dict[str, str]) -> float:
    """Share of sources added, edited or removed between two fingerprints (relative to the larger KB)."""
    keys = old.keys() | new.keys()
    if not keys:
        return 0.0
    changed = sum(1 for k in keys if old.get(k) != new.get(k))
    return changed / max(len(old), len(new), 1)


def collect_samples(
    chunks: Sequence[Chunk],
    retriever: HybridRetriever,
    embedder: Embedder,
    max_probes: int,
    progress: Progress | None = None,
) -> tuple[list[Sample], dict[str, int]]:
    """Ask every sampled probe of the indexed `chunks` in the index and left out, plus the out-of-domain questions."""
    pool = probes_from_chunks(chunks)
    picked = sample(pool, max_probes)
    ood = out_of_domain()
    # The fixed cosines below are MiniLM's; another model's are read on its scale (deflect.calibrate.scale).
    scale = measure_scale(embedder, [p.text for p in ood])
    duplicates = _duplicates(picked, pool, embedder, scale)
    posed = carried_by([p.text for p in picked], signposts(chunks))
    carried = right_carried = left_carried = 0
    samples: list[Sample] = []
    total = len(picked) + len(ood)
    for i, probe in enumerate(picked, start=1):
        audiences = frozenset({"public", "internal"}) if probe.audience == "internal" else frozenset({"public"})
        dense, keyword = retriever.candidates(probe.text, audiences)
        answers = {probe.source_id} | probe.also | duplicates[probe.text]
        # Sources whose own title and heading path pose the probe answer it as well (docs/confidence.md, session 9).
        also_posed = posed[probe.text] - answers
        carried += bool(also_posed)
        # The probe is literally the text of its escalation's question-only chunk (cosine ~1), which no real
        # customer's wording reaches; it must be found through the source's other chunks, as a paraphrase is.
        literal = {h.chunk.chunk_id for h in dense if h.chunk.source_id == probe.source_id and _is_literal(h.chunk)}
        hits = _rank(
            [h for h in dense if h.chunk.chunk_id not in literal],
            [h for h in keyword if h.chunk.chunk_id not in literal],
            retriever.bm25_weight,
            set(),
        )
        # A top source that is not the probe's is still right when it would quote nearly the same text (a manual
        # repeats a section on an overview page; an article and the escalation that repeats it).
        own = _quote(probe.text, next((h for h in hits if h.source_id == probe.source_id), None))
        right = bool(hits) and (
            hits[0].source_id in answers | also_posed
            or _same_answer(probe.text, own, hits, embedder, scale) >= SAME_ANSWER_COSINE
        )
        right_carried += bool(hits) and hits[0].source_id in also_posed
        samples.append(Sample(probe.source_id, features(probe.text, hits), int(right), probe.kind))
        left_out = _rank(dense, keyword, retriever.bm25_weight, answers)
        same = _same_answer(probe.text, own, left_out, embedder, scale)
        feats = features(probe.text, left_out) | {"_same_answer": same}
        if left_out and left_out[0].source_id in also_posed and same < SAME_ANSWER_COSINE:
            # It poses the very words asked: whether it covers what the left-out source said, words cannot tell.
            feats["_posed_elsewhere"] = 1.0
            left_carried += 1
        samples.append(Sample(probe.source_id, feats, int(same >= SAME_ANSWER_COSINE), "left_out"))
        if progress:
            progress(i, total)
    everything = frozenset({"public", "internal"})
    for j, probe in enumerate(ood, start=len(picked) + 1):
        dense, keyword = retriever.candidates(probe.text, everything)
        hits = _rank(dense, keyword, retriever.bm25_weight, set())
        samples.append(Sample("ood:" + probe.text, features(probe.text, hits), 0, "out_of_domain"))
        if progress:
            progress(j, total)
    counts = {"sources": len({c.source_id for c in chunks}), "probe_pool": len(pool), "probes": len(picked)}
    counts |= {f"probes_{k}": sum(1 for p in picked if p.kind == k) for k in ("escalation", "title", "heading")}
    counts["out_of_domain"] = len(ood)
    counts["unrelated_cosine_permille"] = round(scale.unrelated * 1000)
    counts["in_index_right"] = sum(s.label for s in samples)
    # How many probes another source's title and heading path pose too, and how many in-index answers that made right.
    counts["posed_elsewhere"] = carried
    counts["right_posed_elsewhere"] = right_carried
    counts["left_out_posed_elsewhere"] = left_carried
    return samples, counts


def _quote(question: str, source: SourceHit | None) -> str:
    """What `source` alone would quote for `question` (its extractive answer's passages); "" for none."""
    return "\n\n".join(_QUOTER.generate(question, [source]).sentences) if source is not None else ""


def _same_answer(question: str, own: str, ranked: Sequence[SourceHit], embedder: Embedder, scale: CosineScale) -> float:
    """Cosine between `own`, what the probe's own source would quote for it, and what the top of `ranked` would, on
    MiniLM's scale.

    The quotes, not the chunks: a page that only repeats another's one-line summary (a man-page index listing each
    command) shares a chunk with it but does not give the same answer."""
    theirs = _quote(question, ranked[0]) if ranked else ""
    if not own or not theirs:
        return 0.0
    a, b = (np.asarray(v, dtype=np.float32) for v in embedder.embed([own, theirs]))
    return scale.to_reference(float(a @ b / ((np.linalg.norm(a) * np.linalg.norm(b)) or 1.0)))


def _is_literal(chunk: Chunk) -> bool:
    return chunk.kind == "escalation" and chunk.heading_path == QUESTION_HEADING


def _duplicates(
    picked: Sequence[Probe], pool: Sequence[Probe], embedder: Embedder, scale: CosineScale
) -> dict[str, set[str]]:
    """For each picked probe, the other sources with a title/heading/question that says the same."""
    if not picked:
        return {}
    vectors = np.asarray(embedder.embed_questions([p.text for p in pool]), dtype=np.float32)
    by_text = {p.text: i for i, p in enumerate(pool)}
    out: dict[str, set[str]] = {}
    for probe in picked:
        sims = scale.to_reference(vectors @ vectors[by_text[probe.text]])
        out[probe.text] = {
            pool[int(j)].source_id
            for j in np.flatnonzero(sims >= DUPLICATE_COSINE)
            if pool[int(j)].source_id != probe.source_id
        }
    return out


def _rank(
    dense: Sequence[ScoredChunk], keyword: Sequence[ScoredChunk], weight: float, excluded: set[str]
) -> list[SourceHit]:
    """Fused, source-ranked hits with `excluded` sources removed (BM25 renormalised to the best remaining)."""
    d = [h for h in dense if h.chunk.source_id not in excluded]
    k = [h for h in keyword if h.chunk.source_id not in excluded]
    best = max((h.keyword for h in k), default=0.0)
    if k and best > 0 and excluded:
        k = [h.model_copy(update={"keyword": h.keyword / best}) for h in k]
    return rank_sources(fuse(d, k, weight), RETRIEVE_K)


def fit(
    samples: Sequence[Sample],
    embedder: str,
    target_risk: float,
    feature_names: Sequence[str] = SHIPPED_FEATURES,
    fitted_on: Sequence[str] = (),
    min_escalated: float = 0.95,
    uncovered_share: float | None = None,
) -> Calibration:
    """Fit a standardised logistic model on all samples; threshold from 2-fold out-of-fold confidences.

    `uncovered_share`: the share of customers' questions the KB is expected not to cover. The wrong-answer rate is
    then measured on that mix (uncovered probes, i.e. left-out and out-of-domain ones, weigh this share in all)
    instead of the calibration set's accidental one, where they are over half the cases. None: as sampled.

    Left-out probes whose new top source is related but not the same text, or poses the probe too (undecidable),
    are left out of both the fit and the threshold: no label can be given to them without reading both pages.

    The threshold is the highest of three: the target risk on the mix, the cover target on the uncovered probes, and,
    when the desk's labelled questions are among the samples, the target risk on those alone."""
    undecidable = [s for s in samples if _undecidable(s)]
    samples = [s for s in samples if not _undecidable(s)]
    if len(samples) < MIN_SAMPLES or len({s.label for s in samples}) < 2:
        raise ValueError("self-calibration needs answerable and unanswerable probes; is the KB indexed?")
    names = list(feature_names)
    x = np.array([[s.features.get(f, 0.0) for f in names] for s in samples])
    y = np.array([s.label for s in samples], dtype=float)
    means = x.mean(axis=0)
    scales = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
    z = (x - means) / scales
    folds = np.array([fold_of(s.group, 2) for s in samples])
    oof = np.zeros(len(samples))
    cross_checked = True
    for f in (0, 1):
        train = folds != f
        if len(set(y[train])) < 2 or train.all():
            cross_checked = False  # too few groups for two folds: the threshold is then picked in-sample
            break
        w, b = fit_logistic(z[train], y[train])
        oof[~train] = 1.0 / (1.0 + np.exp(-np.clip(z[~train] @ w + b, -30, 30)))
    w, b = fit_logistic(z, y)
    cal = Calibration(
        embedder=embedder,
        features=names,
        weights=dict(zip(names, map(float, w), strict=True)),
        means=dict(zip(names, map(float, means), strict=True)),
        scales=dict(zip(names, map(float, scales), strict=True)),
        bias=b,
        threshold=0.5,
        relevance_floor=_floor(samples),
        target_risk=target_risk,
        fitted_on=list(fitted_on),
    )
    fitted_conf = [cal.confidence(s.features) for s in samples]
    labels = [s.label for s in samples]
    check_conf = list(map(float, oof)) if cross_checked else fitted_conf
    weights = mix_weights(samples, uncovered_share)

    def threshold_of(cases: Sequence[int]) -> tuple[float, float, float]:
        """(risk threshold, cover threshold, desk threshold) on the cases at these indices."""
        picked = [samples[i] for i in cases]
        conf = [check_conf[i] for i in cases]
        risk = modelled_risk_threshold(
            conf, [s.label for s in picked], target_risk, mix_weights(picked, uncovered_share)
        )
        uncovered = [c for c, s in zip(conf, picked, strict=True) if s.kind == "left_out" and not s.label]
        # The second stated target: questions the KB does not cover escalate at least this often.
        cover = _quantile_threshold(uncovered, min_escalated) if uncovered else 0.0
        # The target once more, on the desk's own labelled questions alone: they are customers' questions and the
        # probes are not, and at one confidence the two are right at different rates, more often on some KBs and
        # less on others (docs/confidence.md, session 18). The mix above lets the probes outvote the desk; where the
        # desk's questions say that threshold answers them wrongly too often, theirs is the estimate to keep.
        desk = [(c, s.label) for c, s in zip(conf, picked, strict=True) if s.kind == TRAFFIC_KIND]
        desk_threshold = (
            modelled_risk_threshold([c for c, _ in desk], [label for _, label in desk], target_risk) if desk else 0.0
        )
        if desk and desk_threshold <= min(c for c, _ in desk):
            desk_threshold = 0.0  # within the target however many of them are answered: they bound nothing
        return risk, cover, desk_threshold

    risk_threshold, cover_threshold, desk_threshold = threshold_of(range(len(samples)))
    cal.threshold = round(max(risk_threshold, cover_threshold, desk_threshold), 4)
    # How far the threshold would move on other draws of the same KB's probes (by source): the report's warning
    # that a threshold read off a few probes is uncertain, not a correction of it.
    spread = bootstrap_thresholds(
        [s.group for s in samples], lambda idx: max(threshold_of(idx.tolist())), SPREAD_RESAMPLES
    )
    f_risk, f_cov, _ = risk_coverage(fitted_conf, labels, cal.threshold, weights)
    c_risk, c_cov, _ = risk_coverage(check_conf, labels, cal.threshold, weights)
    cal.notes = {
        "samples": len(samples),
        "positives": int(sum(labels)),
        "fit_risk": round(f_risk, 4),
        "fit_coverage": round(f_cov, 4),
        "check_risk": round(c_risk, 4),
        "check_coverage": round(c_cov, 4),
        "risk_threshold": round(risk_threshold, 4),
        "cover_threshold": round(cover_threshold, 4),
    }
    desk = [i for i, s in enumerate(samples) if s.kind == TRAFFIC_KIND]
    if desk:
        # The wrong-answer rate on the desk's own questions alone, out of fold: the closest thing to what customers
        # will get, since those are customers' questions and the probes are not.
        d_risk, d_cov, d_answered = risk_coverage(
            [check_conf[i] for i in desk], [labels[i] for i in desk], cal.threshold
        )
        cal.notes |= {
            "traffic_threshold": round(desk_threshold, 4),
            "traffic_check_risk": round(d_risk, 4),
            "traffic_check_coverage": round(d_cov, 4),
            "traffic_check_answered": d_answered,
        }
    # The spread of the threshold over resamples of the probes: its 5th, 50th and 95th percentile.
    cal.notes |= {f"threshold_p{q:02d}": round(float(np.percentile(spread, q)), 4) for q in (5, 50, 95)}
    if uncovered_share is not None:
        cal.notes["uncovered_share"] = uncovered_share
    if undecidable:
        cal.notes["undecidable_left_out"] = len(undecidable)
    return cal


def _undecidable(sample: Sample) -> bool:
    """A left-out probe answered by a source that quotes related text, or that poses the probe in its own title and
    headings: it may answer in other words, or not."""
    if sample.kind != "left_out":
        return False
    same = sample.features.get("_same_answer")
    related = same is not None and UNDECIDABLE_COSINE <= same < SAME_ANSWER_COSINE
    return related or bool(sample.features.get("_posed_elsewhere"))


UNCOVERED_KINDS = ("left_out", "out_of_domain")


def mix_weights(samples: Sequence[Sample], uncovered_share: float | None) -> list[float]:
    """Per-sample weights that make uncovered probes `uncovered_share` of the probes' total (1 each when None).

    Questions from the desk's traffic weigh 1 each, outside the mix: they are the real mix of covered and uncovered
    questions already, and counting them among the covered probes would weigh their uncovered ones as covered."""
    probes = [s for s in samples if s.kind != TRAFFIC_KIND]
    uncovered = sum(1 for s in probes if s.kind in UNCOVERED_KINDS)
    covered = len(probes) - uncovered
    if uncovered_share is None or not uncovered or not covered:
        return [1.0] * len(samples)
    n = len(probes)
    w_unc, w_cov = uncovered_share * n / uncovered, (1 - uncovered_share) * n / covered
    return [1.0 if s.kind == TRAFFIC_KIND else w_unc if s.kind in UNCOVERED_KINDS else w_cov for s in samples]


def _quantile_threshold(scores: Sequence[float], share_below: float) -> float:
    """The lowest threshold that leaves at least `share_below` of `scores` strictly below it."""
    allowed = int((1.0 - share_below) * len(scores))  # how many may reach the threshold
    ranked = sorted(scores, reverse=True)
    if allowed >= len(ranked):
        return 0.0
    return float(ranked[allowed]) + 1e-9


def _floor(samples: Sequence[Sample]) -> float:
    """Nothing retrieved is about a question whose top cosine is below what 95% of off-topic questions reach.

    Taken from the out-of-domain probes, not from right answers: the KB's own probes are closer to its text
    than real customers' wording is, so a floor under them would refuse good paraphrases."""
    off_topic = sorted(s.features["top_dense"] for s in samples if s.kind == "out_of_domain")
    return round(float(off_topic[int(0.95 * (len(off_topic) - 1))]), 4) if off_topic else 0.0

"""The calibration in force for one index, and when to fit it again.

"Materially changed" (when `deflect ingest` refits by itself): no calibration has been fitted on this KB yet, it
was fitted with another embedding model or another feature set, or at least `recalibrate_share` (default 10%) of
the sources were added, edited or removed since, or the desk labelled `traffic_min_cases` more questions (or a fifth
more, if larger) than the fit used (deflect.calibrate.traffic). One resolution entering the knowledge loop does not
refit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from deflect.answer.confidence import Calibration
from deflect.calibrate.fit import Sample
from deflect.calibrate.selfcal import (
    Progress,
    SelfCalibrationSettings,
    changed_share,
    collect_samples,
    fit,
    kb_fingerprint,
    kb_hash,
)
from deflect.calibrate.store import CalibrationStore
from deflect.calibrate.traffic import TrafficCases
from deflect.domain.models import Chunk
from deflect.domain.ports import Embedder, Index
from deflect.retrieval.hybrid import HybridRetriever

log = logging.getLogger(__name__)


class Calibrator:
    """Owns the calibration of one index: loads it once, refits on demand or when the KB changed materially."""

    def __init__(
        self,
        index: Index,
        retriever: HybridRetriever,
        embedder: Embedder,
        store: CalibrationStore,
        policy: SelfCalibrationSettings,
        recalibrate_share: float = 0.1,
        traffic: Callable[[], TrafficCases] | None = None,
        traffic_min_cases: int = 200,
    ) -> None:
        self._index = index
        self._retriever = retriever
        self._embedder = embedder
        self.store = store
        self.policy = policy
        self._share = recalibrate_share
        # The desk's labelled questions (read from the store when fitting); None: not used.
        self._traffic = traffic
        self._traffic_min = traffic_min_cases
        self._current: Calibration | None = None
        self.last_samples: list[Sample] = []  # what the last fit saw (the eval compares candidates on them)
        self._lock = threading.Lock()

    def current(self) -> Calibration:
        """The calibration in force (read once, replaced when refitted)."""
        with self._lock:
            if self._current is None:
                self._current = self.store.load()
            return self._current

    def reload_if_newer(self) -> bool:
        """Use the calibration on disk if another process (another worker, `deflect calibrate`) fitted one after
        the one in force here; whether it did."""
        if self.store.explicit is not None:
            return False
        fitted = self.store.fitted()
        if fitted is None:
            return False
        with self._lock:
            current = self._current
            if current is not None and current.notes.get("fitted_at") == fitted.notes.get("fitted_at"):
                return False
            self._current = fitted
        return current is not None

    def stale(self, read_sources: bool = True) -> str | None:
        """Why this KB's calibration should be fitted again, or None when it still holds. `read_sources` False skips
        the one costly check, every chunk read back to see how many sources changed: for callers that know the KB
        did not change behind them (the server's job: its own ingest refits when it ends)."""
        if self.store.explicit is not None:
            return None  # an explicit file is the operator's choice: never replaced behind their back
        fitted = self.store.fitted()
        if fitted is None:
            return "no calibration fitted on this KB yet"
        if fitted.embedder != self._embedder.name:
            return f"fitted with {fitted.embedder}, the index uses {self._embedder.name}"
        if tuple(fitted.features) != tuple(self.policy.features):
            return "fitted on another feature set"
        if fitted.notes.get("uncovered_share") != self.policy.uncovered_share:
            return "fitted for another share of uncovered questions"
        share = changed_share(fitted.sources, kb_fingerprint(self._chunks())) if read_sources else 0.0
        if share >= self._share:
            return f"{share:.0%} of sources changed since it was fitted"
        cases = self._read_traffic()
        if cases is not None:
            used = fitted.notes.get("traffic_cases", 0)
            used = used if isinstance(used, int) else 0
            now = len(cases.samples)
            if now >= self._traffic_min and now - used >= max(self._traffic_min, used // 5):
                return f"{now - used} more questions labelled at the desk since it was fitted"
        return None

    def traffic(self) -> TrafficCases | None:
        """The desk's labelled questions, when there are enough of them to use; None otherwise."""
        cases = self._read_traffic()
        return cases if cases is not None and len(cases.samples) >= self._traffic_min else None

    def _read_traffic(self) -> TrafficCases | None:
        # The desk's labels refine a calibration that stands without them: a database that cannot be read now
        # must not fail an ingest or a refit, only leave them out this time (and say so in the log).
        if self._traffic is None:
            return None
        try:
            return self._traffic()
        except Exception:
            log.warning("the desk's labelled questions could not be read; calibrating without them", exc_info=True)
            return None

    def fit(
        self,
        extra: Sequence[Sample] = (),
        extra_label: str = "",
        progress: Progress | None = None,
        use_traffic: bool = True,
    ) -> Calibration:
        """Fit on this KB (plus `extra` labelled samples, e.g. from a user's golden set, and the desk's labelled
        questions when there are enough and `use_traffic`), save and use it at once."""
        chunks = self._chunks()
        samples, counts = collect_samples(chunks, self._retriever, self._embedder, self.policy.max_probes, progress)
        traffic = self.traffic() if use_traffic else None
        labelled = [*extra, *(traffic.samples if traffic else ())]
        self.last_samples = [*samples, *labelled]
        sources = kb_fingerprint(chunks)
        described = [
            f"self: {counts['probes']} probes of {counts['sources']} sources "
            f"({counts['probes_escalation']} escalation questions, {counts['probes_title']} titles, "
            f"{counts['probes_heading']} headings), each asked in the index and left out; "
            f"{counts['out_of_domain']} out-of-domain questions; {counts['posed_elsewhere']} probes posed by another "
            f"source's title and headings too ({counts['right_posed_elsewhere']} answered by it in the index: right; "
            f"{counts['left_out_posed_elsewhere']} left out: undecidable); unrelated questions at cosine "
            f"{counts['unrelated_cosine_permille'] / 1000:.3f} (MiniLM 0.073: other models' cosines read on its scale)",
        ]
        if extra:
            described.append(f"{extra_label or 'labelled cases'}: {len(extra)} cases")
        if traffic is not None:
            described.append(traffic.describe())
        cal = fit(
            [*samples, *labelled],
            self._embedder.name,
            self.policy.target_risk,
            self.policy.features,
            described,
            uncovered_share=self.policy.uncovered_share,
        )
        cal.kb_hash = kb_hash(sources)
        cal.sources = sources
        cal.unrelated_cosine = counts["unrelated_cosine_permille"] / 1000
        cal.notes |= {f"probe_{k}": v for k, v in counts.items()} | {"fitted_at": datetime.now(UTC).isoformat()}
        cal.notes["traffic_cases"] = len(traffic.samples) if traffic else 0
        self.store.save(cal)
        with self._lock:
            self._current = cal
        log.info("calibrated on the KB: threshold %s", cal.threshold)
        return cal

    def _chunks(self) -> list[Chunk]:
        """Every indexed chunk, read in pages (one read of a large index fails)."""
        return [chunk for page in self._index.pages() for chunk in page]

    def refresh_if_stale(self, progress: Progress | None = None, read_sources: bool = True) -> str:
        """Refit when the KB changed materially; says what was done (for the ingest report)."""
        reason = self.stale(read_sources)
        if reason is None:
            return "kept"
        try:
            cal = self.fit(progress=progress)
        except ValueError as exc:  # too few sources to calibrate on: keep what is in force, say so
            return f"not refitted ({reason}): {exc}"
        return f"refitted ({reason}): answer when confidence >= {cal.threshold}" + timid_warning(cal)


# Below this cross-checked coverage of its own probes, a calibration escalates most of what the KB answers.
LOW_COVERAGE = 0.3
# With fewer of the KB's own questions than this, one probe more or less moves the threshold a lot (a 39-page
# manual gives ~40): the fitted risk is a rough estimate, and the user should know.
FEW_PROBES = 100


def timid_warning(cal: Calibration) -> str:
    """Plain warnings: the target risk could only be met by escalating most answerable questions, or the KB gave
    too few questions of its own for a firm estimate."""
    probes = cal.notes.get("probe_probes")
    few = (
        f"; WARNING: fitted on only {probes} questions of this KB, so its wrong-answer rate is a rough estimate: "
        "check it with a golden set (`deflect calibrate --golden FILE`)"
        if isinstance(probes, int) and probes < FEW_PROBES
        else ""
    )
    desk_risk = cal.notes.get("traffic_check_risk")
    if isinstance(desk_risk, int | float) and cal.target_risk is not None and desk_risk > cal.target_risk:
        few += (
            f"; WARNING: on the desk's own labelled questions the cross-checked wrong-answer rate is {desk_risk:.1%}, "
            f"above the target {cal.target_risk:.0%}: the KB's own questions still pull the threshold down"
        )
    coverage = cal.notes.get("check_coverage")
    if not isinstance(coverage, int | float) or coverage >= LOW_COVERAGE:
        return few
    return few + (
        f"; WARNING: at target risk {cal.target_risk} this KB's own questions are answered only "
        f"{coverage:.0%} of the time (cross-checked), so most questions will be escalated: raise "
        "DEFLECT_TARGET_RISK or refine with a golden set (`deflect calibrate --golden FILE`)"
    )

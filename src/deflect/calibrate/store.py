"""Where the calibration in force comes from: an explicit file, the one fitted on this KB, or the fallback.

The self-fitted calibration lives with the index (under the data folder, one file per collection), stamped with
the KB it was fitted on, so `deflect ingest` can tell when the KB has changed enough to fit again.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from deflect.answer.confidence import Calibration

log = logging.getLogger(__name__)


class CalibrationStore:
    """Loads and saves the calibration of one index; an explicit file, when given, always wins."""

    def __init__(self, self_fitted: Path, explicit: Path | None = None) -> None:
        self.path = self_fitted
        self.explicit = explicit

    def load(self) -> Calibration:
        """The explicit file, else this KB's own calibration, else the packaged fallback (with a warning)."""
        if self.explicit is not None:
            return Calibration.load(self.explicit)
        if self.path.exists():
            return Calibration.load(self.path)
        log.warning("no calibration fitted on this KB yet (%s); using the packaged fallback", self.path)
        return fallback()

    def fitted(self) -> Calibration | None:
        """This KB's own calibration, if one was fitted."""
        return Calibration.load(self.path) if self.path.exists() else None

    def save(self, calibration: Calibration) -> None:
        """Write this KB's calibration atomically."""
        calibration.save(self.path)


def fallback() -> Calibration:
    """A conservative calibration fitted on deflect's sample KB, for a KB too small to calibrate on itself."""
    text = resources.files("deflect.calibrate").joinpath("fallback.json").read_text(encoding="utf-8")
    cal = Calibration.model_validate_json(text)
    return cal.model_copy(update={"fitted_on": ["packaged fallback (sample kb); run `deflect calibrate`"]})

"""Cosines read on one scale whatever the embedding model.

deflect's fixed cosines (self-calibration's "says the same" at 0.8, the repeat-contact and feedback similarities)
were set by measurement with MiniLM, whose unrelated texts sit near 0. Other models spread their cosines otherwise:
e5 puts any two questions near 0.78 (it was trained with a low temperature), so at MiniLM's 0.8 nearly every pair of
texts "says the same". Each model's scale is measured (deflect.calibrate.scale) as its median cosine between
questions unrelated to each other, and a cosine is moved between scales by the affine map that keeps 1 at 1 and sends
one model's "unrelated" to the other's. With MiniLM the map is the identity.
"""

from __future__ import annotations

from dataclasses import dataclass

# MiniLM's median cosine between deflect's out-of-domain questions (0.07298; tests/calibrate/test_scale.py).
REFERENCE_UNRELATED = 0.073


@dataclass(frozen=True)
class CosineScale:
    """A model's cosine between unrelated texts, and the map between its cosines and MiniLM's."""

    unrelated: float = REFERENCE_UNRELATED

    def to_reference(self, cosine: float) -> float:
        """The cosine MiniLM would give for the same closeness (1 stays 1; this model's unrelated becomes MiniLM's)."""
        if self.unrelated == REFERENCE_UNRELATED:
            return cosine
        return REFERENCE_UNRELATED + (cosine - self.unrelated) * (1.0 - REFERENCE_UNRELATED) / (1.0 - self.unrelated)

    def from_reference(self, cosine: float) -> float:
        """This model's cosine for a closeness MiniLM gives `cosine` (a threshold set with MiniLM, for this model)."""
        if self.unrelated == REFERENCE_UNRELATED:
            return cosine
        return self.unrelated + (cosine - REFERENCE_UNRELATED) * (1.0 - self.unrelated) / (1.0 - REFERENCE_UNRELATED)

"""deflect.calibrate.scale: cosines of any model read on MiniLM's scale, measured on the shipped out-of-domain
questions. MiniLM and e5 run for real (their PyPI packages); the map is checked on numbers."""

from __future__ import annotations

import pytest

from deflect.calibrate.probes import out_of_domain
from deflect.calibrate.scale import measure
from deflect.domain.cosine import REFERENCE_UNRELATED, CosineScale
from deflect.index.e5 import E5Embedder
from deflect.index.embedder import SentenceTransformerEmbedder
from deflect.offline import offline_environment
from deflect.testing import HashEmbedder


def questions() -> list[str]:
    return [p.text for p in out_of_domain()]


def test_the_reference_is_what_minilm_measures_so_its_cosines_are_read_unchanged() -> None:
    offline_environment()
    scale = measure(SentenceTransformerEmbedder("minilm"), questions())
    assert scale.unrelated == REFERENCE_UNRELATED
    assert scale.to_reference(0.8) == 0.8 and scale.to_reference(0.5) == 0.5


def test_e5_crowds_its_cosines_near_one_and_they_are_spread_back() -> None:
    scale = measure(E5Embedder("e5"), questions())
    assert scale.unrelated > 0.6  # unrelated questions above MiniLM's "says the same" (0.8 on its scale)
    assert scale.to_reference(scale.unrelated) == pytest.approx(REFERENCE_UNRELATED)
    assert scale.to_reference(1.0) == pytest.approx(1.0)


def test_the_map_is_affine_keeps_order_and_goes_both_ways() -> None:
    scale = CosineScale(0.8)
    assert scale.to_reference(0.9) == pytest.approx(0.073 + 0.1 * 0.927 / 0.2)
    assert scale.to_reference(0.85) < scale.to_reference(0.9) < scale.to_reference(0.95)
    assert scale.from_reference(scale.to_reference(0.87)) == pytest.approx(0.87)
    assert scale.from_reference(0.8) == pytest.approx(0.8 + 0.727 * 0.2 / 0.927)
    assert CosineScale().from_reference(0.6) == 0.6


def test_a_model_that_maps_everything_alike_is_capped_and_too_few_questions_give_the_reference() -> None:
    class Constant(HashEmbedder):
        def embed_questions(self, texts: list[str]) -> list[list[float]]:  # type: ignore[override]
            return [[1.0, 0.0] for _ in texts]

    assert measure(Constant(), questions()).unrelated == 0.95
    assert measure(HashEmbedder(), ["one question"]).unrelated == REFERENCE_UNRELATED

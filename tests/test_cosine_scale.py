"""The fixed cosines (repeat contact, feedback votes on similar questions, gap clusters, the anchor floor) are
MiniLM's: with a model that crowds its cosines near 1 (e5), they are read on that model's scale, taken from the
calibration that measured it. The hash embedder stands in for the model; the calibrations differ only in
`unrelated_cosine`."""

from __future__ import annotations

import math

from conftest import FAKE_CALIBRATION
from deflect.config import Settings
from deflect.domain.models import Audience
from deflect.feedback.adjust import AdjustConfig
from deflect.testing import HashEmbedder, InMemoryIndex, InMemoryStore
from deflect.wiring import assemble

FIRST = "What is the weather on Mars tomorrow morning please?"
AGAIN = "What is the weather on Mars tomorrow evening please?"
# A model whose unrelated questions sit at 0.6: MiniLM's 0.8 is 0.6 + 0.727 * 0.4 / 0.927 = 0.914 on its scale.
CROWDED = FAKE_CALIBRATION.model_copy(update={"unrelated_cosine": 0.6})


def cosine(a: str, b: str) -> float:
    u, v = HashEmbedder().embed([a, b])
    return sum(x * y for x, y in zip(u, v, strict=True)) / math.prod(math.hypot(*w) for w in (u, v))


def asked_again(settings: Settings, calibration: object) -> list[str]:
    service = assemble(settings, InMemoryIndex(), HashEmbedder(), calibration=calibration, store=InMemoryStore())  # type: ignore[arg-type]
    service.ingest([settings.kb_dir], settings.kb_dir)
    service.ask(FIRST, Audience.CUSTOMER, customer_id="c-1")
    return service.ask(AGAIN, Audience.CUSTOMER, customer_id="c-1").reasons


def test_a_repeat_contact_is_judged_on_the_models_own_scale(settings: Settings) -> None:
    assert 0.8 <= cosine(FIRST, AGAIN) < 0.914  # the same problem for MiniLM; not yet for the crowded model
    assert "repeat_contact" in asked_again(settings, FAKE_CALIBRATION)
    assert "repeat_contact" not in asked_again(settings, CROWDED)


def test_feedback_counts_votes_of_questions_similar_on_the_models_own_scale(settings: Settings) -> None:
    for calibration, expected in ((FAKE_CALIBRATION, 0.6), (CROWDED, 0.6 + 0.527 * 0.4 / 0.927)):
        service = assemble(settings, InMemoryIndex(), HashEmbedder(), calibration=calibration, store=InMemoryStore())
        assert service.feedback is not None and service.feedback.config == AdjustConfig()
        assert math.isclose(service.feedback.adjustments().config.min_similarity, expected)


def test_gap_clusters_are_cut_on_the_models_own_scale(settings: Settings) -> None:
    for calibration, expected in ((FAKE_CALIBRATION, 0.5), (CROWDED, 0.6 + 0.427 * 0.4 / 0.927)):
        service = assemble(settings, InMemoryIndex(), HashEmbedder(), calibration=calibration, store=InMemoryStore())
        report = service.gaps(days=30, min_size=1)
        assert math.isclose(report.params.cluster_threshold, expected)
        assert math.isclose(report.params.contradiction_threshold, expected)


def test_the_anchor_floor_is_read_on_the_models_own_scale(settings: Settings) -> None:
    for calibration, expected in ((FAKE_CALIBRATION, 0.3), (CROWDED, 0.6 + 0.227 * 0.4 / 0.927)):
        service = assemble(settings, InMemoryIndex(), HashEmbedder(), calibration=calibration, store=InMemoryStore())
        assert math.isclose(service.retriever.scale().from_reference(settings.anchor_floor), expected)

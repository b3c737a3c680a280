"""Confidence features and the fitted logistic Calibration: values, bounds, and the calibration file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from deflect.answer.confidence import FEATURES, Calibration, features
from deflect.domain.models import ScoredChunk, SourceHit
from deflect.errors import ConfigError

from .builders import chunk


def hit(source_id: str, score: float, dense: float, *texts: str) -> SourceHit:
    return SourceHit(
        source_id=source_id,
        title=source_id,
        url="",
        kind="article",
        score=score,
        dense=dense,
        chunks=[ScoredChunk(chunk=chunk(source_id, i, t)) for i, t in enumerate(texts)],
    )


def calibration(**overrides: object) -> Calibration:
    fields: dict[str, object] = {
        "embedder": "hash-256",
        "weights": {"top_dense": 6.0, "top_score": 0.0, "margin": 2.0, "overlap": 3.0},
        "bias": -4.0,
        "threshold": 0.6,
        "relevance_floor": 0.2,
        "target_risk": 0.05,
        "fitted_on": ["eval/golden.jsonl"],
        "notes": {"fit_cases": 40},
    }
    return Calibration.model_validate(fields | overrides)


def test_no_hits_give_all_zero_features() -> None:
    assert features("How do I reset my password?", []) == dict.fromkeys(FEATURES, 0.0)


def test_features_of_a_hand_built_example() -> None:
    question = "How do I download invoices as PDF files?"  # content words: download, invoices, pdf, files
    top = hit("inv", 0.8, 0.7, "Download invoices from the billing page.", "Invoices are PDF documents.")
    second = hit("exp", 0.5, 0.65, "Export invoices to CSV files.")

    feats = features(question, [top, second])

    assert feats["top_dense"] == pytest.approx(0.7)
    assert feats["top_score"] == pytest.approx(0.8)
    assert feats["margin"] == pytest.approx(0.3)
    # download, invoices (first chunk) and pdf (second chunk) of the top source; "files" is only in the second
    assert feats["overlap"] == pytest.approx(3 / 4)


def test_a_single_hit_has_its_whole_score_as_margin() -> None:
    feats = features("billing page", [hit("inv", 0.6, 0.5, "Open the billing page.")])

    assert feats["margin"] == pytest.approx(0.6)
    assert feats["overlap"] == pytest.approx(1.0)


def test_a_question_of_stop_words_has_no_overlap() -> None:
    feats = features("How do I do it?", [hit("inv", 0.6, 0.5, "How do I do it? Open the billing page.")])

    assert feats["overlap"] == 0.0


def test_confidence_rises_with_a_positively_weighted_feature() -> None:
    cal = calibration()
    base = {"top_dense": 0.0, "top_score": 0.5, "margin": 0.1, "overlap": 0.5}

    values = [cal.confidence(base | {"top_dense": x}) for x in (-1.0, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 2.0)]

    assert all(a < b for a, b in zip(values, values[1:], strict=False))


def test_confidence_falls_with_a_negatively_weighted_feature() -> None:
    cal = calibration(weights={"top_dense": 6.0, "margin": -2.0})

    values = [cal.confidence({"top_dense": 0.5, "margin": m}) for m in (0.0, 0.5, 1.0, 1.5)]

    assert all(a > b for a, b in zip(values, values[1:], strict=False))


def test_confidence_of_the_logistic_model_at_a_known_point() -> None:
    cal = calibration(weights={"top_dense": 2.0, "overlap": 1.0}, bias=-1.5)

    # z = -1.5 + 2 * 0.5 + 1 * 0.5 = 0 -> 0.5; z = -1.5 + 2 * 1 + 1 * 1 = 1.5
    assert cal.confidence({"top_dense": 0.5, "overlap": 0.5}) == pytest.approx(0.5)
    assert cal.confidence({"top_dense": 1.0, "overlap": 1.0}) == pytest.approx(1 / (1 + math.exp(-1.5)))


@pytest.mark.parametrize("value", [1e6, -1e6, 1e308, -1e308, math.inf, -math.inf])
def test_confidence_stays_in_unit_interval_for_extreme_inputs(value: float) -> None:
    cal = calibration()

    conf = cal.confidence({"top_dense": value, "top_score": 0.5, "margin": 0.0, "overlap": 0.0})

    assert 0.0 <= conf <= 1.0
    assert (conf > 0.5) is (value > 0)


def test_save_then_load_round_trips_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    cal = calibration()
    path = tmp_path / "eval" / "calibration.json"  # parent does not exist yet

    cal.save(path)
    loaded = Calibration.load(path)

    assert loaded == cal
    assert [p.name for p in path.parent.iterdir()] == ["calibration.json"]


def test_save_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    calibration(threshold=0.3).save(path)

    calibration(threshold=0.7).save(path)

    assert Calibration.load(path).threshold == 0.7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calibration.json"]


def test_load_of_a_missing_file_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found") as info:
        Calibration.load(tmp_path / "nope.json")

    assert info.value.code == "config_error"


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("{not json", id="not-json"),
        pytest.param(json.dumps({"embedder": "hash-256"}), id="missing-fields"),
        pytest.param(
            json.dumps({"embedder": "x", "weights": {}, "bias": 0.0, "threshold": 1.5, "relevance_floor": 0.1}),
            id="threshold-out-of-range",
        ),
        pytest.param(json.dumps([1, 2, 3]), id="not-an-object"),
        pytest.param("", id="empty"),
    ],
)
def test_load_of_a_malformed_file_raises_config_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "calibration.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(ConfigError, match="invalid"):
        Calibration.load(path)

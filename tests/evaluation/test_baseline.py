"""The regression gate: a metric worse than its baseline by more than its tolerance is a regression."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deflect.errors import ConfigError
from deflect.evaluation.baseline import compare, load_baseline, write_baseline

BASE = {"recall@1": {"value": 0.90, "tolerance": 0.02}, "wrong_answer_rate": {"value": 0.05, "tolerance": 0.01}}


@pytest.mark.parametrize(
    ("metrics", "regressed"),
    [
        ({"recall@1": 0.885, "wrong_answer_rate": 0.05}, set()),  # within tolerance
        ({"recall@1": 0.87, "wrong_answer_rate": 0.05}, {"recall@1"}),  # fell by 0.03 > 0.02
        ({"recall@1": 0.95, "wrong_answer_rate": 0.07}, {"wrong_answer_rate"}),  # lower is better: rose by 0.02
        ({"recall@1": 0.95, "wrong_answer_rate": 0.01}, set()),  # improvements never regress
        ({"wrong_answer_rate": 0.05}, {"recall@1"}),  # a missing metric counts as a regression
    ],
)
def test_compare_flags_exactly_the_regressed_metrics(metrics: dict[str, float], regressed: set[str]) -> None:
    assert {c.metric for c in compare(metrics, BASE) if c.regressed} == regressed


def test_write_then_load_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    write_baseline({"recall@1": 0.91234, "auroc": None}, {"recall@1": 0.02, "auroc": 0.03}, path)
    loaded = load_baseline(path)
    assert loaded == {"recall@1": {"value": 0.9123, "tolerance": 0.02}}  # metrics without a value are skipped


def test_a_missing_or_malformed_baseline_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_baseline(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"no_metrics": 1}), encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid"):
        load_baseline(bad)

"""The regression gate: compare metrics with committed reference numbers and their tolerances."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deflect.errors import ConfigError

# Latency moves with the machine's load, so it is reported but gated only loosely.
LOWER_IS_BETTER = {"wrong_answer_rate", "latency_p50_ms", "latency_p95_ms"}


@dataclass(frozen=True)
class Check:
    metric: str
    baseline: float
    current: float | None
    tolerance: float
    regressed: bool


def load_baseline(path: Path) -> dict[str, Any]:
    """{"metrics": {name: {"value": v, "tolerance": t}}}."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return dict(data["metrics"])
    except FileNotFoundError:
        raise ConfigError(f"baseline {path} not found") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"baseline {path} is invalid: {exc}") from None


def compare(metrics: dict[str, Any], baseline: dict[str, Any]) -> list[Check]:
    """One check per baseline metric; a metric missing from the run counts as a regression."""
    checks = []
    for name, ref in baseline.items():
        value, tol = float(ref["value"]), float(ref["tolerance"])
        current = metrics.get(name)
        if current is None:
            regressed = True
        elif name in LOWER_IS_BETTER:
            regressed = current > value + tol
        else:
            regressed = current < value - tol
        checks.append(Check(name, value, current, tol, regressed))
    return checks


def write_baseline(metrics: dict[str, Any], tolerances: dict[str, float], path: Path) -> None:
    """Record current metrics as the new reference, with their tolerances."""
    data = {
        "metrics": {
            k: {"value": round(float(metrics[k]), 4), "tolerance": t}
            for k, t in tolerances.items()
            if metrics.get(k) is not None
        }
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

"""config/escalation.yaml: the shipped defaults, and a clear ConfigError for every way the file can be wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from deflect.domain.escalation import Priority, Tier
from deflect.errors import ConfigError
from deflect.escalations import load_escalation_config
from deflect.escalations.config import parse_duration

from .builders import CONFIG, raw_config

MINUTE, HOUR = 60, 3600


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "escalation.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def test_the_repo_config_loads_with_the_documented_defaults() -> None:
    windows = {p: (CONFIG.sla.clocks[p].acknowledge, CONFIG.sla.clocks[p].resolve) for p in Priority}

    assert windows == {
        Priority.CRITICAL: (15 * MINUTE, 2 * HOUR),
        Priority.HIGH: (1 * HOUR, 8 * HOUR),
        Priority.MEDIUM: (4 * HOUR, 24 * HOUR),
        Priority.LOW: (8 * HOUR, 72 * HOUR),
    }
    assert CONFIG.sla.warning_lead == 0.2
    assert CONFIG.priority.default is Priority.MEDIUM
    assert CONFIG.tier.default is Tier.TIER1
    assert CONFIG.tier.on_sla_breach is Tier.MANAGEMENT
    assert CONFIG.version


@pytest.mark.parametrize("customer_tier", ["enterprise", "vip"])
def test_premium_customer_tiers_never_get_looser_clocks(customer_tier: str) -> None:
    for priority in Priority:
        standard = CONFIG.sla.window(priority, None)
        premium = CONFIG.sla.window(priority, customer_tier)
        assert premium.acknowledge <= standard.acknowledge
        assert premium.resolve <= standard.resolve
    assert CONFIG.sla.window(Priority.CRITICAL, customer_tier).acknowledge < 15 * MINUTE


def test_an_unlisted_customer_tier_uses_the_standard_clocks() -> None:
    assert CONFIG.sla.window(Priority.HIGH, "business") == CONFIG.sla.clocks[Priority.HIGH]
    assert CONFIG.sla.window(Priority.HIGH, None) == CONFIG.sla.clocks[Priority.HIGH]
    # vip overrides critical only; its other priorities fall back to the standard clocks.
    assert CONFIG.sla.window(Priority.LOW, "vip") == CONFIG.sla.clocks[Priority.LOW]
    assert CONFIG.sla.window(Priority.CRITICAL, "VIP").acknowledge == 5 * MINUTE


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15m", 900), ("2h", 7200), ("1h30m", 5400), ("3d", 259_200), ("90s", 90), (" 2h ", 7200), (600, 600)],
)
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "15", "15 minutes", "m", "1.5h", True, None, 2.5])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_a_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nowhere.yaml not found"):
        load_escalation_config(tmp_path / "nowhere.yaml")


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "version: v1\npriority:\n  default: [unclosed\n")

    with pytest.raises(ConfigError, match=r"escalation\.yaml:\d+ is not valid YAML"):
        load_escalation_config(path)


@pytest.mark.parametrize("content", ["", "- a list\n", "just text\n"])
def test_a_file_that_is_not_a_mapping(tmp_path: Path, content: str) -> None:
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_escalation_config(write(tmp_path, content))


def edited(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    data = raw_config()
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("priority", "critcal"), [], "priority.critcal"),
        (("priority", "default"), "urgent", "priority.default"),
        (("sla", "clocks", "high", "acknowledge"), "soon", "sla.clocks.high.acknowledge"),
        (("sla", "clocks", "high", "acknowledge"), "9h", "sla.clocks.high"),
        (("sla", "warning_lead"), 1.5, "sla.warning_lead"),
        (("priority", "high", 0, "risk_topic"), ["outage"], "priority.high.0.risk_topic"),
        (("priority", "low", 1, "patterns"), ["(unclosed"], "priority.low.1"),
        (("messages", "customer"), "Reply $respone_time", "messages"),
        (("messages", "customer"), "Costs $5", "messages"),
    ],
    ids=[
        "misspelt-priority",
        "unknown-priority",
        "bad-duration",
        "ack-longer-than-resolve",
        "lead-out-of-range",
        "misspelt-condition",
        "bad-regex",
        "unknown-placeholder",
        "stray-dollar",
    ],
)
def test_an_invalid_config_names_the_field(tmp_path: Path, path: tuple[str | int, ...], value: Any, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_escalation_config(write(tmp_path, edited(path, value)))

    assert "is invalid" in info.value.message
    assert any(d["field"].startswith(field) for d in info.value.details), info.value.details


def test_a_rule_without_a_condition_is_refused(tmp_path: Path) -> None:
    data = edited(("priority", "high"), [{"name": "matches everything"}])

    with pytest.raises(ConfigError, match="names no condition"):
        load_escalation_config(write(tmp_path, data))


def test_every_priority_needs_a_clock(tmp_path: Path) -> None:
    data = raw_config()
    del data["sla"]["clocks"]["low"]

    with pytest.raises(ConfigError, match="no window for low"):
        load_escalation_config(write(tmp_path, data))


def test_unknown_placeholders_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\$respone_time"):
        load_escalation_config(write(tmp_path, edited(("messages", "customer"), "Reply $respone_time")))

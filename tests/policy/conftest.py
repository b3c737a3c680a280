"""The shipped policy file, loaded once: trigger tests check the rules deflect actually runs with."""

from __future__ import annotations

from pathlib import Path

import pytest

from deflect.policy.loader import load_policy
from deflect.policy.rules import PolicyConfig

SHIPPED_POLICY = Path(__file__).resolve().parents[2] / "config" / "policy.yaml"


@pytest.fixture(scope="session")
def shipped() -> PolicyConfig:
    return load_policy(SHIPPED_POLICY)

"""Read config/policy.yaml into validated rules: the only policy module that touches the file system."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from deflect.errors import ConfigError
from deflect.policy.rules import PolicyConfig


def load_policy(path: Path) -> PolicyConfig:
    """Parse and validate a policy file; any problem is a ConfigError naming the file and what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"policy file {path} does not exist (set DEFLECT_POLICY_FILE)") from None
    except OSError as exc:
        raise ConfigError(f"policy file {path} cannot be read: {exc.strerror or exc}") from None
    return parse_policy(text, str(path))


def parse_policy(text: str, origin: str = "<policy>") -> PolicyConfig:
    """Validate policy YAML held in memory; `origin` names it in errors."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{origin}:{mark.line + 1}" if mark is not None else origin
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping with `version` and `triggers`, got {type(data).__name__}")
    try:
        return PolicyConfig.model_validate(data)
    except ValidationError as exc:
        details = [{"field": ".".join(str(p) for p in err["loc"]), "problem": err["msg"]} for err in exc.errors()]
        summary = "; ".join(f"{d['field'] or '(top)'}: {d['problem']}" for d in details)
        raise ConfigError(f"{origin}: invalid policy: {summary}", details) from None

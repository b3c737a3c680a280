"""A knowledge folder's own rules: `deflect.yaml` (defaults for what files do not say) and `.deflectignore`.

`deflect.yaml` (optional, at the ingest root):

    base_url: https://docs.example.com/manual/   # url = base_url + the file's path, when a file names none
    url_template: https://help.example/{stem}    # or a template: {path} (with extension) or {stem} (without)
    default_audience: public                     # for files that state none and match no rule
    audience:                                    # gitignore-style patterns, the last match wins
      internal/**: internal
      runbooks/*.md: internal

`.deflectignore` (optional, at the ingest root): gitignore syntax; matching files are reported as skipped.
A broken `deflect.yaml` stops ingestion (a ConfigError) instead of falling back to defaults, because the
fallback could publish internal documents to customers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pathspec
import yaml

from deflect.errors import ConfigError

CONFIG_FILE = "deflect.yaml"
IGNORE_FILE = ".deflectignore"
AUDIENCES = ("public", "internal")


@dataclass(frozen=True)
class KbRules:
    """Defaults for articles that do not state their url or audience, and what not to ingest."""

    base_url: str = ""
    url_template: str = ""
    default_audience: str = "public"
    audience_rules: tuple[tuple[pathspec.PathSpec, str, str], ...] = ()  # (spec, pattern, audience)
    ignore: pathspec.PathSpec | None = field(default=None)

    def audience_for(self, origin: str) -> tuple[str, str]:
        """The audience of a file that states none, and why: ("internal", "rule internal/**")."""
        found = (self.default_audience, "default")
        for spec, pattern, audience in self.audience_rules:
            if spec.match_file(origin):
                found = (audience, f"rule {pattern}")
        return found

    def url_for(self, origin: str) -> str:
        """The url of a file that states none ("" when no base_url or url_template is configured)."""
        stem = str(PurePosixPath(origin).with_suffix(""))
        if self.url_template:
            return self.url_template.replace("{path}", origin).replace("{stem}", stem)
        if self.base_url:
            return self.base_url.rstrip("/") + "/" + origin
        return ""

    def ignored(self, origin: str) -> bool:
        """Whether `.deflectignore` excludes this path (relative to the ingest root)."""
        return self.ignore is not None and self.ignore.match_file(origin)


def load_rules(root: Path) -> KbRules:
    """Read `deflect.yaml` and `.deflectignore` from the ingest root; both are optional."""
    ignore = None
    ignore_path = root / IGNORE_FILE
    if ignore_path.is_file():
        ignore = pathspec.GitIgnoreSpec.from_lines(ignore_path.read_text(encoding="utf-8").splitlines())
    config_path = root / CONFIG_FILE
    if not config_path.is_file():
        return KbRules(ignore=ignore)
    try:
        raw = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: expected a mapping of settings")
    unknown = set(raw) - {"base_url", "url_template", "default_audience", "audience"}
    if unknown:
        raise ConfigError(f"{config_path}: unknown keys {', '.join(sorted(unknown))}")
    default = _audience(raw.get("default_audience", "public"), config_path, "default_audience")
    rules_raw: Any = raw.get("audience") or {}
    if not isinstance(rules_raw, dict):
        raise ConfigError(f"{config_path}: `audience` must map path patterns to public or internal")
    rules = tuple(
        (pathspec.GitIgnoreSpec.from_lines([str(pattern)]), str(pattern), _audience(value, config_path, str(pattern)))
        for pattern, value in rules_raw.items()
    )
    return KbRules(
        base_url=str(raw.get("base_url") or ""),
        url_template=str(raw.get("url_template") or ""),
        default_audience=default,
        audience_rules=rules,
        ignore=ignore,
    )


def _audience(value: object, path: Path, where: str) -> str:
    audience = str(value).strip().lower()
    if audience not in AUDIENCES:
        raise ConfigError(f"{path}: {where}: audience must be public or internal, not {value!r}")
    return audience

"""A project folder: one home for a knowledge base, its settings and its local state (`deflect init`).

DIR/deflect.env          settings (dotenv); relative paths in it resolve against DIR
DIR/kb/                  the documents, with one example article and a commented deflect.yaml
DIR/config/*.yaml        copies of the default escalation triggers and priority/SLA matrix
DIR/data/                all local state (index, database, calibration, keyword index)
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from deflect.config import PROJECT_FILE
from deflect.errors import ValidationFailed

# (template, where it goes in the project); the settings file last, so a failed init can simply be run again.
_FILES = (
    ("getting-started.md", "kb/getting-started.md"),
    ("deflect.yaml", "kb/deflect.yaml"),
    ("policy.yaml", "config/policy.yaml"),
    ("escalation.yaml", "config/escalation.yaml"),
    ("deflect.env", PROJECT_FILE),
)
DATA_DIR = "data"
# The data folder holds an index and a database, not something to commit with the documents.
_DATA_IGNORE = "# deflect's local state (index, database, calibration): rebuilt by `deflect ingest`\n*\n"


@dataclass(frozen=True)
class Created:
    """One path `deflect init` wrote, or found already there and left alone."""

    path: Path
    status: Literal["created", "kept"]


def create_project(root: Path) -> list[Created]:
    """Write a new project folder; a file already there is kept, never overwritten. Refuses a folder that is already
    a project, so a second `init` cannot quietly reset someone's settings."""
    if (root / PROJECT_FILE).exists():
        raise ValidationFailed(f"{root} is already a deflect project ({PROJECT_FILE} exists)")
    if root.exists() and not root.is_dir():
        raise ValidationFailed(f"{root} exists and is not a folder")
    templates = resources.files(__package__) / "templates"
    done = [_write(root / DATA_DIR / ".gitignore", _DATA_IGNORE)]
    for template, relative in _FILES:
        done.append(_write(root / relative, (templates / template).read_text(encoding="utf-8")))
    return done


def _write(path: Path, text: str) -> Created:
    if path.exists():
        return Created(path, "kept")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return Created(path, "created")

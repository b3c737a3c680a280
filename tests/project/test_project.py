"""Project folders: what `deflect init` writes, and settings whose paths belong to the project wherever the command
runs (deflect.project, Settings.load)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deflect.config import PROJECT_FILE, Settings, find_project
from deflect.errors import ConfigError, ValidationFailed
from deflect.escalations.config import load_escalation_config
from deflect.ingest.rules import load_rules
from deflect.ingest.sources import parse_paths
from deflect.policy.loader import load_policy
from deflect.project import create_project


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No DEFLECT_* variable from the developer's machine; the working directory is somewhere else entirely."""
    for name in list(os.environ):
        if name.startswith("DEFLECT_"):
            monkeypatch.delenv(name)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)


def test_init_writes_settings_kb_config_and_data(tmp_path: Path) -> None:
    root = tmp_path / "support"
    written = create_project(root)

    assert {w.status for w in written} == {"created"}
    assert {w.path.relative_to(root).as_posix() for w in written} == {
        PROJECT_FILE,
        "kb/getting-started.md",
        "kb/deflect.yaml",
        "config/policy.yaml",
        "config/escalation.yaml",
        "data/.gitignore",
    }
    # Every line of the settings file is a comment, blank, or a setting deflect knows.
    for line in (root / PROJECT_FILE).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            assert line.split("=", 1)[0].removeprefix("DEFLECT_").lower() in Settings.model_fields, line


def test_what_init_writes_is_valid_for_the_parts_that_read_it(tmp_path: Path) -> None:
    root = tmp_path / "support"
    create_project(root)
    settings = Settings.load(root)

    assert load_policy(settings.policy_file).triggers is not None
    assert load_escalation_config(settings.escalation_file) is not None
    rules = load_rules(settings.kb_dir)
    parsed = parse_paths([settings.kb_dir], settings.kb_dir, "sig", rules)
    assert [d.source_id for d in parsed.docs] == ["doc:getting-started"]
    assert parsed.errors == []
    assert [s.reason for s in parsed.skipped] == ["deflect configuration"]


def test_init_never_overwrites_and_refuses_an_existing_project(tmp_path: Path) -> None:
    root = tmp_path / "support"
    (root / "kb").mkdir(parents=True)
    (root / "kb" / "getting-started.md").write_text("# Mine\n\nMy own words.\n", encoding="utf-8")

    statuses = {w.path.name: w.status for w in create_project(root)}

    assert statuses["getting-started.md"] == "kept"
    assert (root / "kb" / "getting-started.md").read_text(encoding="utf-8") == "# Mine\n\nMy own words.\n"
    with pytest.raises(ValidationFailed, match="already a deflect project"):
        create_project(root)


def test_project_paths_resolve_against_the_project_not_the_working_directory(tmp_path: Path) -> None:
    root = tmp_path / "support"
    create_project(root)

    settings = Settings.load(root)

    assert settings.project == root.resolve()
    assert settings.kb_dir == root.resolve() / "kb"
    assert settings.data_dir == root.resolve() / "data"
    assert settings.policy_file == root.resolve() / "config" / "policy.yaml"
    assert settings.escalation_file.is_file()


def test_all_local_state_lives_in_the_data_dir_unless_the_database_url_says_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "support"
    create_project(root)
    data = root.resolve() / "data"

    settings = Settings.load(root)

    assert settings.database_url == f"sqlite:///{data / 'deflect.db'}"
    assert settings.chroma_path.parent == data
    assert settings.self_calibration_path.is_relative_to(data)
    monkeypatch.setenv("DEFLECT_DATA_DIR", "state")  # relative: to the project as well
    assert Settings.load(root).database_url == f"sqlite:///{root.resolve() / 'state' / 'deflect.db'}"
    monkeypatch.setenv("DEFLECT_DATABASE_URL", "sqlite:///db/escalations.db")
    assert Settings.load(root).database_url == f"sqlite:///{root.resolve() / 'db' / 'escalations.db'}"
    monkeypatch.setenv("DEFLECT_DATABASE_URL", "postgresql+psycopg://u:p@127.0.0.1:5432/deflect")
    assert Settings.load(root).database_url == "postgresql+psycopg://u:p@127.0.0.1:5432/deflect"


def test_without_a_project_the_database_follows_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFLECT_DATA_DIR", "/srv/deflect-state")

    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert settings.database_url == "sqlite:////srv/deflect-state/deflect.db"


def test_the_project_file_is_read_and_the_environment_overrides_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "support"
    create_project(root)
    with (root / PROJECT_FILE).open("a", encoding="utf-8") as f:
        f.write("DEFLECT_TARGET_RISK=0.1\nDEFLECT_PORT=9001\n")
    monkeypatch.setenv("DEFLECT_PORT", "9002")

    settings = Settings.load(root)

    assert settings.target_risk == 0.1
    assert settings.port == 9002


def test_the_project_is_found_from_a_subfolder_and_from_deflect_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "support"
    create_project(root)
    deep = root / "kb" / "guides"
    deep.mkdir()

    assert find_project(deep) == root.resolve()
    assert Settings.load(cwd=deep).kb_dir == root.resolve() / "kb"
    assert Settings.load().project is None  # the working directory (elsewhere) is in no project
    monkeypatch.setenv("DEFLECT_PROJECT", str(root))
    assert Settings.load().kb_dir == root.resolve() / "kb"


def test_a_folder_that_is_not_a_project_is_refused_instead_of_starting_an_empty_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a deflect project"):
        Settings.load(tmp_path / "typo")

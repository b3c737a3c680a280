"""A project folder through the CLI with the real pieces (packaged MiniLM, embedded Chroma): `deflect init`, then
ingest and ask from other working directories, by --project, DEFLECT_PROJECT and discovery."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from deflect import cli_project  # noqa: F401  (registers `init` on the app)
from deflect.cli import app
from deflect.config import PROJECT_FILE

runner = CliRunner()


def invoke(*args: str) -> Result:
    # DEFLECT_PROJECT=None: unset during the call and restored after, since --project sets it for child processes.
    return runner.invoke(app, list(args), env={"DEFLECT_PROJECT": None})


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`deflect init`, a manual outside the project, and a working directory in neither."""
    base = tmp_path_factory.mktemp("project")
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("DEFLECT_"):
                mp.delenv(name)
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM"):
            mp.setenv(name, "1" if name != "TOKENIZERS_PARALLELISM" else "false")
        (base / "elsewhere").mkdir()
        mp.chdir(base / "elsewhere")
        result = invoke("init", str(base / "support"))
        assert result.exit_code == 0, result.output
        yield base / "support"


def ingest_json(*args: str) -> dict[str, object]:
    result = invoke(*args, "ingest", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_init_says_what_it_created_and_what_to_do_next(project: Path) -> None:
    result = invoke("init", str(project))

    assert result.exit_code == 2
    assert "already a deflect project" in " ".join(result.output.split())  # Rich wraps long lines
    assert (project / PROJECT_FILE).is_file()


def test_ingest_by_project_option_from_elsewhere_keeps_every_bit_of_state_in_the_project(project: Path) -> None:
    report = ingest_json("--project", str(project))

    assert report["added"] == 1
    assert "refitted" in str(report["calibration"])  # a new KB gets its own calibration, and says so
    data = project / "data"
    assert {p.name for p in data.iterdir()} >= {"chroma", "deflect.db", "calibration", "keyword"}
    assert not (Path.cwd() / ".data").exists()
    assert sorted(p.name for p in Path.cwd().iterdir()) == []


def test_ask_finds_the_project_from_a_subfolder(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest_json("--project", str(project))
    monkeypatch.chdir(project / "kb")

    result = invoke("ask", "--dry-run", "--json", "How do I keep a file out of the knowledge base?")

    body = json.loads(result.stdout)
    assert body["dry_run"] is True
    assert body["retrieved"][0] == "doc:getting-started"  # searched the project's index, not an empty new one


def test_deflect_project_in_the_environment_names_the_project(project: Path) -> None:
    ingest_json("--project", str(project))
    result = runner.invoke(app, ["ingest", "--json"], env={"DEFLECT_PROJECT": str(project)})

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["unchanged"] >= 1


def test_a_folder_that_is_no_project_is_a_clean_error(tmp_path: Path) -> None:
    result = invoke("--project", str(tmp_path), "ingest")

    assert result.exit_code == 2
    assert "not a deflect project" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_an_outside_folder_gets_the_same_ids_from_any_working_directory(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manual = tmp_path / "docs" / "manual"
    (manual / "advanced").mkdir(parents=True)
    (manual / "index.md").write_text("# Backup basics\n\nRun the backup every night.\n", encoding="utf-8")
    (manual / "advanced" / "index.md").write_text("# Pruning\n\nPrune old archives monthly.\n", encoding="utf-8")

    monkeypatch.chdir(tmp_path)
    report = json.loads(invoke("--project", str(project), "ingest", str(manual), "--json").stdout)
    monkeypatch.chdir(manual / "advanced")
    again = json.loads(invoke("--project", str(project), "ingest", str(manual), "--json").stdout)

    paths = sorted(str(f["path"]) for f in report["files"])  # type: ignore[union-attr]
    assert paths == ["manual/advanced/index.md", "manual/index.md"]  # same-named files, two sources
    assert report["added"] == 2
    assert (again["added"], again["deleted"], again["unchanged"]) == (0, 0, 2)

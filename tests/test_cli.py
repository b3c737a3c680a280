"""End to end through the CLI with the real pieces: packaged MiniLM, embedded Chroma, shipped calibration."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from conftest import CANARY, write_kb
from deflect.cli import EXIT_ESCALATED, _render, app
from deflect.domain.models import AskResult, Audience, Citation, Decision, Suggestion

REPO = Path(__file__).resolve().parents[1]
CALIBRATION = REPO / "eval" / "calibration.json"
PASSWORD_QUESTION = "How do I reset my password?"
OUT_OF_SCOPE = "What is the weather on Mars tomorrow?"
REPORT_KEYS = {"added", "updated", "deleted", "deleted_sources", "unchanged", "chunks", "calibration", "files"}
INTERNAL_IDS = {"doc:internal/credits", "esc:ESC-2"}

runner = CliRunner()


@dataclass
class CliWorld:
    kb: Path
    data: Path
    root: Path
    first_ingest: Result


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def assert_clean_failure(result: Result, code: int) -> None:
    """Exited with `code` through typer.Exit, not an exception, and said nothing about Python internals."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliWorld]:
    """A kb on disk, a data dir, the settings in the environment, and one ingest already run."""
    root = tmp_path_factory.mktemp("cli")
    kb = write_kb(root / "kb")
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("DEFLECT_"):
                mp.delenv(name)
        # build_service sets these with setdefault; set them here so they are undone after the module.
        for name, value in {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
            "TOKENIZERS_PARALLELISM": "false",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        }.items():
            mp.setenv(name, value)
        mp.setenv("DEFLECT_KB_DIR", str(kb))
        mp.setenv("DEFLECT_DATA_DIR", str(root / "data"))
        mp.setenv("DEFLECT_CALIBRATION_FILE", str(CALIBRATION))
        mp.setenv("DEFLECT_POLICY_FILE", str(CALIBRATION.parents[1] / "config" / "policy.yaml"))
        mp.setenv("DEFLECT_ESCALATION_FILE", str(CALIBRATION.parents[1] / "config" / "escalation.yaml"))
        mp.setenv("DEFLECT_DATABASE_URL", f"sqlite:///{root / 'deflect.db'}")
        mp.chdir(root)  # no stray .env, no relative kb/ from the repo
        yield CliWorld(kb=kb, data=root / "data", root=root, first_ingest=invoke("ingest", "--json"))


def ask_json(*args: str) -> tuple[Result, dict[str, object]]:
    result = invoke("ask", *args, "--json")
    return result, json.loads(result.stdout)


# --- ingest -----------------------------------------------------------------------------------------------


def test_first_ingest_reports_what_it_added(world: CliWorld) -> None:
    result = world.first_ingest

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == REPORT_KEYS
    assert report["added"] == 5  # two articles, one runbook, two escalations
    assert report["updated"] == report["deleted"] == report["unchanged"] == 0
    assert report["chunks"] >= report["added"]
    assert result.stderr == ""


def test_second_ingest_reports_everything_unchanged(world: CliWorld) -> None:
    first = json.loads(world.first_ingest.stdout)

    result = invoke("ingest", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    files = report.pop("files")
    assert {f["status"] for f in files} == {"unchanged"}
    assert {f["path"] for f in files} == {f["path"] for f in first["files"]}
    assert report == {
        "added": 0,
        "updated": 0,
        "deleted": 0,
        "deleted_sources": [],
        "unchanged": first["added"],
        "chunks": first["chunks"],
        # an explicit calibration file is the operator's choice: ingest never refits over it
        "calibration": "kept",
    }


def test_ingest_without_json_says_the_index_is_up_to_date(world: CliWorld) -> None:
    result = invoke("ingest")

    assert result.exit_code == 0, result.output
    assert "Index up to date" in result.stdout
    assert "nothing re-embedded" in result.stdout


def test_ingest_of_a_missing_path_exits_2(world: CliWorld) -> None:
    result = invoke("ingest", "/does/not/exist")

    assert_clean_failure(result, 2)
    assert "/does/not/exist does not exist" in result.stderr
    assert result.stdout == ""


def test_a_malformed_file_is_reported_with_its_path_and_the_run_succeeds(
    world: CliWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = world.root / "kb-broken"
    shutil.copytree(world.kb, kb)
    (kb / "articles" / "broken.md").write_text("---\ntitle: [unclosed\n---\nBody.\n", encoding="utf-8")
    (kb / "escalations" / "bad.jsonl").write_text('{"id": "ESC-9"\n', encoding="utf-8")
    # Brackets in a path are text, not console markup.
    (kb / "articles" / "[archived]").mkdir()
    (kb / "articles" / "[archived]" / "old.md").write_text("---\naudience: everyone\n---\nBody.\n", encoding="utf-8")
    monkeypatch.setenv("DEFLECT_KB_DIR", str(kb))
    monkeypatch.setenv("DEFLECT_DATA_DIR", str(world.root / "data-broken"))

    result = invoke("ingest", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == 5  # every good source still indexed
    stderr = " ".join(result.stderr.split())  # rich may wrap long lines
    assert "articles/broken.md" in stderr
    assert "escalations/bad.jsonl:1" in stderr
    assert "articles/[archived]/old.md" in stderr
    assert "Traceback" not in result.output


def test_ingest_names_the_sources_it_deleted(world: CliWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    kb = world.root / "kb-pruned"
    shutil.copytree(world.kb, kb)
    monkeypatch.setenv("DEFLECT_KB_DIR", str(kb))
    monkeypatch.setenv("DEFLECT_DATA_DIR", str(world.root / "data-pruned"))
    assert invoke("ingest", "--json").exit_code == 0
    (kb / "articles" / "invoices.html").unlink()

    result = invoke("ingest")

    assert result.exit_code == 0, result.output
    assert "deleted 1 (their files are gone or skipped): doc:articles/invoices" in " ".join(result.stdout.split())


def test_ingest_of_a_fifo_or_a_broken_link_exits_2_and_says_what_it_is(world: CliWorld) -> None:
    fifo, link = world.root / "fifo.md", world.root / "link.md"
    os.mkfifo(fifo)
    link.symlink_to(world.root / "nowhere.md")

    for path, problem in ((fifo, "is not a regular file or folder"), (link, "is a broken link")):
        result = invoke("ingest", str(path))

        assert_clean_failure(result, 2)
        assert f"{path} {problem}" in " ".join(result.stderr.split())


@pytest.mark.parametrize("path", ["/nope/[draft]/a.md", "/nope/[/x]"], ids=["style-like", "closing-tag-like"])
def test_a_missing_path_with_brackets_is_reported_verbatim(world: CliWorld, path: str) -> None:
    result = invoke("ingest", path)

    assert_clean_failure(result, 2)
    assert f"{path} does not exist" in result.stderr


# --- ask --------------------------------------------------------------------------------------------------


def test_ask_answers_with_a_citation_of_the_password_article(world: CliWorld) -> None:
    result, body = ask_json(PASSWORD_QUESTION)

    assert result.exit_code == 0, result.output
    assert body["decision"] == "answer"
    assert body["audience"] == "customer"
    assert body["question"] == PASSWORD_QUESTION
    citations = body["citations"]
    assert isinstance(citations, list)
    assert citations[0]["source_id"] == "doc:articles/reset-password"
    assert citations[0]["url"] == "https://help.example/accounts/reset-password"
    assert "[1]" in str(body["answer"])
    assert 0.0 <= float(body["confidence"]) <= 1.0  # type: ignore[arg-type]


def test_ask_without_json_prints_the_answer_and_its_sources(world: CliWorld) -> None:
    result = invoke("ask", PASSWORD_QUESTION)

    assert result.exit_code == 0, result.output
    assert "[1] Resetting your password" in result.stdout
    assert "confidence" in result.stdout


def test_an_out_of_scope_question_exits_3(world: CliWorld) -> None:
    result, body = ask_json(OUT_OF_SCOPE)

    assert result.exit_code == 3, result.output
    assert body["decision"] == "escalate"
    assert body["reasons"]
    assert body["citations"] == []


def test_an_out_of_scope_question_without_json_shows_the_reasons(world: CliWorld) -> None:
    result = invoke("ask", OUT_OF_SCOPE)

    assert result.exit_code == 3
    assert "Escalated" in result.stdout
    assert "low_confidence" in result.stdout


def stored() -> tuple[int, int]:
    """Escalations and audit events in the world's database, read through the desk the workflow CLI uses."""
    from deflect.config import Settings
    from deflect.wiring import build_desk

    desk = build_desk(Settings())
    return len(desk.list(limit=500)), len(desk.store.audit())


@pytest.mark.parametrize(("question", "code"), [(OUT_OF_SCOPE, 3), (PASSWORD_QUESTION, 0)])
def test_a_dry_run_asks_as_usual_and_records_nothing(world: CliWorld, question: str, code: int) -> None:
    before = stored()
    dry, dry_body = ask_json(question, "--dry-run")
    assert stored() == before, "a dry run writes no escalation and no audit event"
    real, real_body = ask_json(question)

    assert dry.exit_code == real.exit_code == code, dry.output
    assert dry_body["dry_run"] is True and real_body["dry_run"] is False
    for field in ("decision", "reasons", "confidence", "retrieved", "priority"):
        assert dry_body[field] == real_body[field], field
    assert dry_body["escalation_id"] is None
    escalations, events = stored()
    if code == EXIT_ESCALATED:
        assert real_body["escalation_id"] and dry_body["priority"]
        assert escalations == before[0] + 1, "the real ask, unlike the dry one, opened an escalation"
    else:
        assert dry_body["answer"] == real_body["answer"] and escalations == before[0]
    assert events > before[1]


def test_a_dry_run_without_json_says_what_it_would_have_done(world: CliWorld) -> None:
    before = stored()
    result = invoke("ask", OUT_OF_SCOPE, "--dry-run")

    assert result.exit_code == EXIT_ESCALATED
    assert "Would escalate" in result.stdout and "low_confidence" in result.stdout
    assert "nothing was recorded" in result.stdout
    assert stored() == before


@pytest.mark.parametrize("question", ["", "   "], ids=["empty", "blank"])
def test_an_empty_question_exits_2_with_a_clear_message(world: CliWorld, question: str) -> None:
    result = invoke("ask", question)

    assert_clean_failure(result, 2)
    assert "question must not be empty" in result.stderr
    assert "validation_failed" in result.stderr


def test_a_customer_never_gets_internal_content_from_the_cli(world: CliWorld) -> None:
    for question in (CANARY, "refund approval chain", "account credits admin tool"):
        _, body = ask_json(question)
        shown = {k: v for k, v in body.items() if k != "question"}
        assert CANARY not in json.dumps(shown)
        assert not INTERNAL_IDS & set(body["retrieved"])  # type: ignore[arg-type]


def test_an_agent_gets_internal_content_from_the_cli(world: CliWorld) -> None:
    _, body = ask_json("Who approves a refund above the limit?", "--audience", "agent")

    assert body["audience"] == "agent"
    assert "esc:ESC-2" in body["retrieved"]  # type: ignore[operator]


def test_ask_before_any_ingest_exits_2_with_index_unavailable(world: CliWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFLECT_DATA_DIR", str(world.root / "data-empty"))

    result = invoke("ask", PASSWORD_QUESTION)

    assert_clean_failure(result, 2)
    assert "index_unavailable" in result.stderr
    assert "deflect ingest" in result.stderr
    assert result.stdout == ""


def test_ask_with_a_missing_calibration_file_exits_2_with_config_error(
    world: CliWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFLECT_CALIBRATION_FILE", str(world.root / "missing.json"))

    result = invoke("ask", PASSWORD_QUESTION)

    assert_clean_failure(result, 2)
    assert "config_error" in result.stderr
    assert "missing.json" in " ".join(result.stderr.split())


def test_invalid_settings_exit_2_with_config_error(world: CliWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFLECT_ENV", "production")

    result = invoke("ask", PASSWORD_QUESTION)

    assert_clean_failure(result, 2)
    assert "config_error" in result.stderr
    assert "development API keys" in " ".join(result.stderr.split())


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No DEFLECT_* variable and no settings file: the test sets what it needs."""
    for name in list(os.environ):
        if name.startswith("DEFLECT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_bad_settings_print_one_line_each_naming_the_variable(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (bare / "deflect.env").write_text("DEFLECT_ANCHOR_WEIGHT=lots\n", encoding="utf-8")
    monkeypatch.setenv("DEFLECT_CHUNK_SIZE", "abc")

    result = invoke("ask", PASSWORD_QUESTION)  # the settings file of the working directory's project

    assert_clean_failure(result, 2)
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert all(line.startswith("error (config_error): DEFLECT_") for line in lines)
    assert any("DEFLECT_CHUNK_SIZE" in line and "'abc'" in line for line in lines)
    assert any("DEFLECT_ANCHOR_WEIGHT" in line and "'lots'" in line for line in lines)


def test_serve_refuses_a_port_flag_that_is_no_tcp_port(bare: Path) -> None:
    result = invoke("serve", "--port", "99999")

    assert result.exit_code == 2
    assert "Invalid value for '--port'" in result.stderr and "65535" in result.stderr
    assert not list(bare.rglob("serve.json"))


def test_serve_refuses_a_port_setting_that_is_no_tcp_port(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFLECT_PORT", "99999")

    result = invoke("serve")

    assert_clean_failure(result, 2)
    assert result.stderr.startswith("error (config_error): DEFLECT_PORT: ")
    assert "65535" in result.stderr
    assert not list(bare.rglob("serve.json"))


def test_no_arguments_shows_help() -> None:
    result = invoke()

    assert "ingest" in result.output and "ask" in result.output


def ask_result(**fields: Any) -> AskResult:
    """An AskResult to render: a customer's answer unless `fields` say otherwise."""
    base: dict[str, Any] = {"id": "ans_1", "question": "q", "audience": Audience.CUSTOMER, "citations": []}
    base |= {"decision": Decision.ANSWER, "answer": "", "confidence": 0.5, "reasons": [], "latency_ms": 1.0}
    return AskResult(**(base | fields))


def test_answer_text_with_brackets_is_printed_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    # Answers quote the knowledge base word for word; "[enter]" there is text, not console markup.
    answer = "Press [enter] to confirm, then close the [/b] dialog. [1]"
    result = ask_result(
        answer=answer, citations=[Citation(n=1, source_id="doc:a", title="A [draft]", url="https://x", snippet="s")]
    )

    _render(result)

    printed = capsys.readouterr().out
    assert answer in printed
    assert "[1] A [draft]  https://x" in printed


def test_an_escalation_prints_the_suggested_pages_under_the_hand_off(capsys: pytest.CaptureFixture[str]) -> None:
    handoff = "I've passed your question to our support team.\n\nWhile you wait, these pages may help:"
    pages = [
        Suggestion(source_id="doc:a", title="Pipes [and] redirection", url="https://x/a#pipes", heading="Pipes"),
        Suggestion(source_id="doc:b", title="Tutorial", url="/sources/doc:b"),
    ]
    result = ask_result(
        decision=Decision.ESCALATE, answer=handoff, reasons=["low_confidence"], escalation_id="esc_1", suggested=pages
    )

    _render(result)

    printed = capsys.readouterr().out
    listed = printed.index("- Pipes [and] redirection > Pipes  https://x/a#pipes")
    assert printed.index("these pages may help:") < listed
    assert "- Tutorial  /sources/doc:b" in printed


def test_the_first_pages_excerpt_is_printed_indented_under_it(capsys: pytest.CaptureFixture[str]) -> None:
    quoted = "**Pipes > Redirection**\n\nUse `>` to send output to a file. [1]"
    pages = [
        Suggestion(source_id="doc:a", title="Pipes", url="https://x/a", heading="Redirection", excerpt=quoted),
        Suggestion(source_id="doc:b", title="Tutorial", url="https://x/b"),
    ]
    result = ask_result(decision=Decision.ESCALATE, reasons=["low_confidence"], escalation_id="esc_1", suggested=pages)

    _render(result)

    lines = capsys.readouterr().out.splitlines()
    first = lines.index("- Pipes > Redirection  https://x/a")
    assert lines[first + 1 : first + 4] == [
        "    **Pipes > Redirection**",
        "",
        "    Use `>` to send output to a file. [1]",
    ]
    assert lines[first + 4] == "- Tutorial  https://x/b"  # the other page stays a pointer


def test_a_dry_run_lists_the_pages_the_customer_would_be_offered(capsys: pytest.CaptureFixture[str]) -> None:
    pages = [Suggestion(source_id="doc:a", title="Pipes", url="https://x/a", heading="Redirection")]
    result = ask_result(decision=Decision.ESCALATE, reasons=["low_confidence"], dry_run=True, suggested=pages)

    _render(result)

    printed = capsys.readouterr().out
    assert "Would escalate" in printed
    assert "- Pipes > Redirection  https://x/a" in printed


def test_ask_of_a_customer_escalated_for_low_confidence_alone_lists_public_pages(
    world: CliWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFLECT_CONFIDENCE_THRESHOLD", "1.0")  # no answer reaches it: low confidence alone

    result, body = ask_json(PASSWORD_QUESTION)

    assert result.exit_code == 3, result.output
    assert body["reasons"] == ["low_confidence"]
    pages = body["suggested"]
    assert isinstance(pages, list) and pages
    assert pages[0]["source_id"] == "doc:articles/reset-password"
    assert not {p["source_id"] for p in pages} & INTERNAL_IDS
    # The first page comes quoted (the extractive generator is the default); a dry run shows the same.
    assert "reset link" in pages[0]["excerpt"] and all(not p["excerpt"] for p in pages[1:])
    dry = invoke("ask", PASSWORD_QUESTION, "--dry-run")
    assert dry.exit_code == 3
    quoted = [line for line in dry.stdout.splitlines() if line.startswith("    ")]
    # The same excerpt, every line indented under its page (not re-wrapped at the terminal's width).
    assert quoted[0].startswith("    **Resetting your password") and quoted[-1].endswith("[1]")
    assert "\n".join(line.strip() for line in quoted) == "\n".join(
        line.strip() for line in pages[0]["excerpt"].splitlines() if line.strip()
    )


def test_calibrate_fits_on_the_indexed_kb_and_says_what_it_fitted_on(world: CliWorld) -> None:
    from deflect import cli_eval  # noqa: F401  (registers `calibrate` on the app, as main() does)

    result = invoke("calibrate", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["file"] == str(world.data / "calibration" / "deflect.json")
    assert (world.data / "calibration" / "deflect.json").exists()
    assert 0.0 <= report["threshold"] <= 1.0
    assert report["fitted_on"][0].startswith("self: ")
    assert report["embedder"].startswith("minilm")
    for key in ("fit_risk", "fit_coverage", "check_risk", "check_coverage", "kb_hash"):
        assert key in report
    # how many probes another source poses too in its title and headings (an in-index answer from it is right)
    assert 0 <= report["probe_right_posed_elsewhere"] <= report["probe_posed_elsewhere"] <= report["probe_probes"]
    assert 0 <= report["probe_left_out_posed_elsewhere"] <= report["probe_posed_elsewhere"]
    assert "posed by another source's title and headings too" in report["fitted_on"][0]
    # the threshold is the larger of its two parts, and how far it moves over resampled probes
    assert report["threshold"] == pytest.approx(max(report["risk_threshold"], report["cover_threshold"]), abs=1e-4)
    assert report["threshold_p05"] <= report["threshold_p50"] <= report["threshold_p95"]
    # no question has been labelled at this desk yet: the fit used none, and says nothing of traffic
    assert report["traffic_cases"] == 0
    assert not any(line.startswith("traffic:") for line in report["fitted_on"])
    again = invoke("calibrate", "--no-traffic", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["threshold"] == report["threshold"]  # same KB, same probes, same fit


def test_eval_suite_refuses_an_unknown_set_and_names_the_known_ones(tmp_path: Path) -> None:
    from deflect import cli_eval  # noqa: F401  (registers `eval-suite` on the app, as main() does)

    result = invoke("eval-suite", "--only", "kb,nope", "--out", str(tmp_path))

    assert_clean_failure(result, 2)
    assert "unknown set(s) nope" in result.output
    assert "known: kb, stackfaq" in result.output
    assert not any(tmp_path.iterdir())


def test_serve_port_is_the_settings_port(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`deflect serve --port N` serves N and builds the app with port N: the development widget's origins (and
    /demo's widget) follow it, as they follow DEFLECT_PORT."""
    import uvicorn

    import deflect.api
    from deflect.config import DEV_WIDGET_ID, Settings

    for name in list(os.environ):
        if name.startswith("DEFLECT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEFLECT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEFLECT_PORT", "8080")  # serve writes it: monkeypatch restores the environment after
    built: list[Settings] = []
    served: list[int] = []
    monkeypatch.setattr(deflect.api, "create_app", lambda settings: built.append(settings) or object())
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.append(kwargs["port"]))

    result = invoke("serve", "--port", "8765")

    assert result.exit_code == 0, result.output
    assert served == [8765] and built[0].port == 8765
    assert built[0].widgets[DEV_WIDGET_ID] == ["http://localhost:8765", "http://127.0.0.1:8765"]


def test_an_agents_escalation_prints_the_draft_with_its_sources(capsys: pytest.CaptureFixture[str]) -> None:
    draft = "Credits above 500 need a [team lead] approval. [1]"
    result = ask_result(
        audience=Audience.AGENT,
        decision=Decision.ESCALATE,
        reasons=["low_confidence"],
        escalation_id="esc_1",
        draft_answer=draft,
        draft_below_threshold=True,
        draft_citations=[Citation(n=1, source_id="doc:credits", title="Credits runbook", url="", snippet="s")],
    )

    _render(result)

    printed = capsys.readouterr().out
    assert "Draft for the agent (below the answer threshold: check it):" in printed
    assert printed.index(draft) > printed.index("Draft for the agent")  # verbatim, brackets included
    assert "[1] Credits runbook  doc:credits" in printed

"""The manual eval: manifest and questions, files taken from an installed HTML tree, actionable scoring, and one
end-to-end run over a tiny manual written for this test (real Chroma, the hash embedder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.test_config import with_every_secret

from deflect.config import Settings
from deflect.errors import ConfigError, SourceError
from deflect.evaluation.manual import (
    AGENT_DRAFTS,
    ANSWER_ALL,
    SELF_CALIBRATED,
    ManualQuestion,
    evaluate_manual,
    has_key_terms,
    load_manual,
    manual_files,
    page_source_id,
    score_assist,
    score_question,
    summarise,
)
from deflect.evaluation.runner import CaseResult
from deflect.testing.fakes import HashEmbedder

PAGES = {
    "index.html": ("Tidyup manual", "<h1>Tidyup manual</h1><p>Tidyup removes old snapshots from a folder.</p>"),
    "usage/trim.html": (
        "tidyup trim",
        "<h1>tidyup trim</h1><p>Remove snapshots older than a number of days.</p>"
        "<pre>tidyup trim --older-than 30 /snapshots</pre>",
    ),
    "usage/list.html": (
        "tidyup list",
        "<h1>tidyup list</h1><p>Show every snapshot with its size and date.</p><pre>tidyup list /snapshots</pre>",
    ),
    "_static/theme.html": ("theme", "<p>style sheet preview, not documentation</p>"),
    "search.html": ("Search", "<p>Please activate JavaScript to enable the search functionality.</p>"),
}


def write_manual(tmp_path: Path, html_root: Path | None = None) -> Path:
    root = tmp_path / "installed"
    for rel, (title, body) in PAGES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<html><head><title>{title}</title></head><body>{body}</body></html>", encoding="utf-8")
    manuals = tmp_path / "manuals"
    manuals.mkdir()
    manifest = {
        "name": "tidyup",
        "debian_package": "tidyup-doc",
        "package_version": "1.0-1",
        "license": "ours",
        "html_root": str(html_root or root),
        "exclude": ["_static/**", "search.html"],
        "questions": "tidyup.jsonl",
    }
    (manuals / "tidyup.json").write_text(json.dumps(manifest), encoding="utf-8")
    questions = [
        {"id": "t1", "question": "how do I trim snapshots older than 30 days", "expected_pages": ["usage/trim"],
         "key_terms": ["--older-than"], "split": "tune"},
        {"id": "t2", "question": "how do I list snapshots with size and date", "expected_pages": ["usage/list"],
         "key_terms": [["tidyup list", "tidyup ls"]], "split": "report"},
        {"id": "t3", "question": "what is the capital of Peru", "expected_pages": [], "key_terms": [],
         "split": "report"},
    ]  # fmt: skip
    (manuals / "tidyup.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    return manuals


def result(decision: str, cited: list[str], retrieved: list[str], answer: str) -> CaseResult:
    return CaseResult(
        id="x",
        decision=decision,
        confidence=0.5,
        reasons=[],
        citations=cited,
        retrieved=retrieved,
        answer=answer,
        latency_ms=1.0,
    )


def test_pages_are_named_like_the_source_ids_ingest_gives_them() -> None:
    assert page_source_id("usage/prune") == "doc:usage/prune"
    assert page_source_id("/usage/prune.html") == "doc:usage/prune"


def test_manual_files_follow_include_and_exclude(tmp_path: Path) -> None:
    manual = load_manual("tidyup", write_manual(tmp_path))
    names = [p.as_posix() for p in manual_files(manual.manifest)]
    assert names == ["index.html", "usage/list.html", "usage/trim.html"]
    assert [q.case().should_escalate for q in manual.questions] == [False, False, True]
    assert manual.questions[0].case().expected_sources == ["doc:usage/trim"]


def test_a_missing_package_names_the_apt_package(tmp_path: Path) -> None:
    manual = load_manual("tidyup", write_manual(tmp_path, html_root=tmp_path / "not-installed"))
    with pytest.raises(ConfigError, match="apt-get install tidyup-doc"):
        manual_files(manual.manifest)


def test_unknown_manual_and_bad_question_lines_are_clear_errors(tmp_path: Path) -> None:
    manuals = write_manual(tmp_path)
    with pytest.raises(ConfigError, match="known: tidyup"):
        load_manual("nope", manuals)
    with (manuals / "tidyup.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"id": "t9", "question": "q", "split": "sometimes"}\n')
    with pytest.raises(SourceError) as exc:
        load_manual("tidyup", manuals)
    assert exc.value.path.endswith("tidyup.jsonl") and exc.value.line == 4


def test_key_terms_need_every_entry_and_any_alternative() -> None:
    assert has_key_terms("Run `borg prune --keep-daily 7 --KEEP-WEEKLY 4`", ["--keep-daily", "--keep-weekly"])
    assert not has_key_terms("Run `borg prune --keep-daily 7`", ["--keep-daily", "--keep-weekly"])
    assert has_key_terms("export BORG_PASSCOMMAND='pass show borg'", [["BORG_PASSPHRASE", "BORG_PASSCOMMAND"]])
    assert not has_key_terms("", ["x"])
    # Matched as a reader sees the answer: `Alt`+`S` reads "Alt+S".
    assert has_key_terms("Just press `Alt`+`S`.", [["alt+", "history-token-search"]])
    assert not has_key_terms("Just press `Alt` then `S`.", [["alt+", "history-token-search"]])


def test_an_agent_is_helped_by_an_actionable_draft_of_an_escalated_question() -> None:
    q = ManualQuestion(id="q", question="?", expected_pages=["usage/trim"], key_terms=["--older-than"], split="tune")
    drafted = result("escalate", [], ["doc:usage/trim"], "").model_copy(
        update={"draft": "Run `tidyup trim --older-than 3` [1]", "draft_citations": ["doc:usage/trim"]}
    )
    wrong_draft = drafted.model_copy(update={"draft_citations": ["doc:index"]})
    bare = result("escalate", [], ["doc:usage/trim"], "")

    rows = [score_assist(q, r) for r in (drafted, wrong_draft, bare)]

    assert [r["answered"] for r in rows] == [True, True, False]
    assert [r["actionable"] for r in rows] == [True, False, False]
    # Asked by a customer, the same escalation helps nobody: the draft is the agent's.
    assert score_question(q, drafted)["actionable"] is False


def test_actionable_needs_an_answer_an_expected_citation_and_the_terms() -> None:
    q = ManualQuestion(id="q", question="?", expected_pages=["usage/trim"], key_terms=["--older-than"], split="tune")
    good = score_question(q, result("answer", ["doc:usage/trim"], ["doc:usage/trim"], "tidyup trim --older-than 3"))
    wrong_page = score_question(q, result("answer", ["doc:index"], ["doc:index", "doc:usage/trim"], "--older-than"))
    no_terms = score_question(q, result("answer", ["doc:usage/trim"], ["doc:usage/trim"], "Remove old snapshots."))
    escalated = score_question(q, result("escalate", [], ["doc:usage/trim"], ""))
    assert [r["actionable"] for r in (good, wrong_page, no_terms, escalated)] == [True, False, False, False]
    assert (wrong_page["r@1"], wrong_page["r@5"]) == (0.0, 1.0)
    oos = ManualQuestion(id="o", question="?", split="report")
    summary = summarise([good, wrong_page, no_terms, escalated, score_question(oos, result("escalate", [], [], ""))])
    assert summary["questions"] == 4
    assert summary["actionable"] == pytest.approx(0.25)
    assert summary["answered_not_actionable"] == pytest.approx(0.5)
    assert summary["R@1"] == pytest.approx(0.75)
    assert summary["oos_escalated"] == 1.0


def test_suggestions_count_for_escalated_answerable_questions_and_against_out_of_scope_ones() -> None:
    q = ManualQuestion(id="q", question="?", expected_pages=["usage/trim"], key_terms=["--older-than"], split="tune")
    oos = ManualQuestion(id="o", question="?", split="report")
    escalated = result("escalate", [], ["doc:usage/trim"], "")
    right = escalated.model_copy(update={"suggested": ["doc:index", "doc:usage/trim"]})
    wrong = right.model_copy(update={"suggested": ["doc:index"]})
    answered = result("answer", ["doc:usage/trim"], ["doc:usage/trim"], "tidyup trim --older-than 3").model_copy(
        update={"suggested": ["doc:index"]}  # cannot happen (answers suggest nothing); scored as not applicable
    )
    pointed = result("escalate", [], ["doc:index"], "").model_copy(update={"suggested": ["doc:index"]})
    bare = result("escalate", [], [], "")

    rows = [score_question(q, r) for r in (right, wrong, answered)] + [score_question(oos, r) for r in (pointed, bare)]

    assert [r["suggested_expected"] for r in rows[:3]] == [True, False, None]
    summary = summarise(rows)
    assert summary["escalated_suggested_expected"] == pytest.approx(0.5)  # of the two escalated answerable ones
    assert summary["oos_suggested"] == pytest.approx(0.5)


def test_excerpts_count_when_shown_when_actionable_and_against_out_of_scope_questions() -> None:
    q = ManualQuestion(id="q", question="?", expected_pages=["usage/trim"], key_terms=["--older-than"], split="tune")
    oos = ManualQuestion(id="o", question="?", split="report")
    escalated = result("escalate", [], ["doc:usage/trim"], "")
    quoted = "**tidyup trim**\n\n```\ntidyup trim --older-than 30 /snapshots\n```\n\n[1]"
    good = escalated.model_copy(update={"suggested": ["doc:usage/trim", "doc:index"], "excerpt": quoted})
    # An expected page suggested second does not make the first page's excerpt actionable.
    other_page = good.model_copy(update={"suggested": ["doc:index", "doc:usage/trim"]})
    no_terms = good.model_copy(update={"excerpt": "**tidyup trim**\n\nRemove old snapshots. [1]"})
    pointer = good.model_copy(update={"excerpt": ""})
    oos_quoted = result("escalate", [], ["doc:index"], "").model_copy(
        update={"suggested": ["doc:index"], "excerpt": "Tidyup removes old snapshots. [1]"}
    )
    oos_pointer = oos_quoted.model_copy(update={"excerpt": ""})

    rows = [score_question(q, r) for r in (good, other_page, no_terms, pointer)]
    rows += [score_question(oos, r) for r in (oos_quoted, oos_pointer)]

    assert [r["excerpt_shown"] for r in rows[:4]] == [True, True, True, False]
    assert [r["excerpt_actionable"] for r in rows[:4]] == [True, False, False, False]
    assert [r["excerpt_shown"] for r in rows[4:]] == [None, None]  # applies to escalated answerable questions
    summary = summarise(rows)
    assert summary["escalated_excerpt_shown"] == pytest.approx(0.75)
    assert summary["escalated_excerpt_actionable"] == pytest.approx(0.25)
    assert summary["oos_excerpt"] == pytest.approx(0.5)
    answered = score_question(q, result("answer", ["doc:usage/trim"], ["doc:usage/trim"], "tidyup trim --older-than"))
    assert answered["excerpt_shown"] is None and answered["excerpt_actionable"] is None


def test_evaluate_manual_end_to_end(tmp_path: Path, settings: Settings) -> None:
    manuals = write_manual(tmp_path)
    out = tmp_path / "report"
    outcome = evaluate_manual(settings, HashEmbedder(), "tidyup", out, manuals_dir=manuals)
    # Every part of the eval lives in its throwaway folder: nothing lands in the user's data folder.
    assert not (settings.data_dir / "keyword").exists()
    assert set(outcome.points) == {SELF_CALIBRATED, ANSWER_ALL, AGENT_DRAFTS}
    # An agent gets every answer a customer gets, and drafts on top: never fewer questions helped.
    agent, own = outcome.points[AGENT_DRAFTS]["all"], outcome.points[SELF_CALIBRATED]["all"]
    assert agent["answered"] is not None and own["answered"] is not None
    assert agent["answered"] >= own["answered"]
    everything = outcome.points[ANSWER_ALL]["all"]
    assert everything["questions"] == 2 and everything["out_of_scope"] == 1
    assert everything["R@1"] == 1.0  # the hash embedder matches these questions' words to their pages
    rows = [json.loads(line) for line in (out / f"questions-{ANSWER_ALL}.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["t1", "t2", "t3"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stamp"]["data"].startswith("manual tidyup: tidyup-doc 1.0-1")
    report = (out / "report.md").read_text()
    assert "Manual questions by operating point" in report
    assert "| t2 |" in report  # the per-question table of the answer-all point
    # The excerpt shares are columns of the operating points' table (sorted: next to the suggestion shares).
    header = next(line for line in report.splitlines() if "oos_suggested" in line)
    assert "| escalated_excerpt_actionable | escalated_excerpt_shown | escalated_suggested_expected |" in header
    assert "| oos_excerpt | oos_suggested |" in header
    assert {"escalated_excerpt_shown", "escalated_excerpt_actionable", "oos_excerpt"} <= set(own)
    own = (out / f"results-{SELF_CALIBRATED}.jsonl").read_text().splitlines()
    retrieved = [json.loads(line)["retrieved"] for line in own]
    assert all("doc:_static/theme" not in r and "doc:search" not in r for r in retrieved)


def test_the_cli_refuses_manual_with_other_data() -> None:
    from typer.testing import CliRunner

    from deflect import cli_eval  # noqa: F401  (registers `eval` on the app, as deflect.cli.main does)
    from deflect.cli import app

    result = CliRunner().invoke(app, ["eval", "--manual", "borgbackup", "--golden", "eval/golden/kb.jsonl"])
    assert result.exit_code == 2
    assert "--manual builds its own KB" in result.output


def answers(out: Path) -> dict[str, list[dict[str, object]]]:
    """Per-question results of every operating point, latency left out (it is the only thing that may differ)."""
    rows: dict[str, list[dict[str, object]]] = {}
    for point in (SELF_CALIBRATED, ANSWER_ALL, AGENT_DRAFTS):
        lines = (out / f"results-{point}.jsonl").read_text(encoding="utf-8").splitlines()
        rows[point] = [{k: v for k, v in json.loads(line).items() if k != "latency_ms"} for line in lines]
        rows[f"questions-{point}"] = [
            json.loads(line) for line in (out / f"questions-{point}.jsonl").read_text(encoding="utf-8").splitlines()
        ]
    return rows


def comparable(out: Path) -> dict[str, object]:
    """metrics.json without what differs between identical runs: the git stamp, latencies and the work folder."""
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    metrics["stamp"].pop("git")
    stamped = json.loads(metrics["stamp"]["settings"])
    metrics["stamp"]["settings"] = {k: v for k, v in stamped.items() if k not in ("data_dir", "database_url")}
    calibration = metrics["stamp"]["calibration"]
    assert "fitted on: self:" in calibration  # deflect's own calibration, fitted by this run
    metrics["overall"] = {k: v for k, v in metrics["overall"].items() if "latency" not in k}
    return metrics


def test_a_kept_work_folder_embeds_no_chunk_again_and_gives_a_fresh_runs_results(
    tmp_path: Path, settings: Settings
) -> None:
    manuals = write_manual(tmp_path)
    work = tmp_path / "work"
    first, second, fresh = HashEmbedder(), HashEmbedder(), HashEmbedder()
    evaluate_manual(settings, first, "tidyup", tmp_path / "r1", manuals_dir=manuals, keep=work)
    evaluate_manual(settings, second, "tidyup", tmp_path / "r2", manuals_dir=manuals, keep=work)
    evaluate_manual(settings, fresh, "tidyup", tmp_path / "r3", manuals_dir=manuals)

    chunks = int(json.loads((tmp_path / "r1" / "metrics.json").read_text())["stamp"]["chunks"])
    assert chunks > 0
    # Questions, probes and answers are embedded alike in every run: the only difference is the ingest's chunks.
    assert first.texts == fresh.texts
    assert first.texts - second.texts == chunks
    assert answers(tmp_path / "r2") == answers(tmp_path / "r3") == answers(tmp_path / "r1")
    assert comparable(tmp_path / "r2") == comparable(tmp_path / "r3")
    assert work.is_dir() and (work / "chroma").is_dir()  # kept for the next run


def test_a_changed_chunker_setting_is_chunked_and_embedded_again(tmp_path: Path, settings: Settings) -> None:
    manuals = write_manual(tmp_path)
    work = tmp_path / "work"
    evaluate_manual(settings, HashEmbedder(), "tidyup", tmp_path / "r1", manuals_dir=manuals, keep=work)
    smaller = settings.model_copy(update={"chunk_size": 50, "chunk_overlap": 5})
    kept, fresh = HashEmbedder(), HashEmbedder()
    evaluate_manual(smaller, kept, "tidyup", tmp_path / "r2", manuals_dir=manuals, keep=work)
    evaluate_manual(smaller, fresh, "tidyup", tmp_path / "r3", manuals_dir=manuals)

    assert kept.texts == fresh.texts  # every chunk embedded again, as from scratch
    assert answers(tmp_path / "r2") == answers(tmp_path / "r3")
    assert comparable(tmp_path / "r2") == comparable(tmp_path / "r3")


def test_a_kept_work_folder_starts_with_an_empty_store_and_refits_the_calibration(
    tmp_path: Path, settings: Settings
) -> None:
    import sqlite3

    manuals = write_manual(tmp_path)
    work = tmp_path / "work"

    def escalations() -> int:
        with sqlite3.connect(work / "eval.db") as db:
            return int(db.execute("select count(*) from escalations").fetchone()[0])

    evaluate_manual(settings, HashEmbedder(), "tidyup", tmp_path / "r1", manuals_dir=manuals, keep=work)
    once = escalations()
    assert once > 0  # the out-of-scope question at least
    # A calibration left by other code, which "materially changed" would keep (same model, features, sources).
    (stored,) = (work / "data" / "calibration").glob("*.json")
    cal = json.loads(stored.read_text(encoding="utf-8"))
    fitted_at = cal["notes"]["fitted_at"]
    stored.write_text(json.dumps(cal | {"threshold": 0.999}), encoding="utf-8")

    evaluate_manual(settings, HashEmbedder(), "tidyup", tmp_path / "r2", manuals_dir=manuals, keep=work)

    assert escalations() == once  # this run's escalations only, none of the first run's
    refitted = json.loads(stored.read_text(encoding="utf-8"))
    assert refitted["notes"]["fitted_at"] != fitted_at
    assert refitted["threshold"] == cal["threshold"]
    assert answers(tmp_path / "r2") == answers(tmp_path / "r1")


def test_no_secret_setting_reaches_any_manual_report_file(tmp_path: Path, settings: Settings) -> None:
    secret, secrets = with_every_secret(settings)

    evaluate_manual(secret, HashEmbedder(), "tidyup", tmp_path / "report", manuals_dir=write_manual(tmp_path))

    files = [p for p in (tmp_path / "report").rglob("*") if p.is_file()]
    assert {"metrics.json", "report.md", "report.html"} <= {p.name for p in files}
    assert not [(p.name, s) for p in files for s in secrets if s.encode() in p.read_bytes()]


def test_the_manual_settings_stamp_says_what_was_evaluated(tmp_path: Path, settings: Settings) -> None:
    manuals = write_manual(tmp_path)

    evaluate_manual(settings, HashEmbedder(), "tidyup", tmp_path / "report", manuals_dir=manuals, keep=tmp_path / "w")

    stamped = json.loads(json.loads((tmp_path / "report" / "metrics.json").read_text())["stamp"]["settings"])
    assert stamped["kb_dir"] == str(tmp_path / "installed")  # the manual's HTML tree (write_manual's html_root)
    assert Path(stamped["data_dir"]).is_relative_to(tmp_path / "w")
    assert str(tmp_path / "w") in stamped["database_url"] and stamped["database_url"] != settings.database_url

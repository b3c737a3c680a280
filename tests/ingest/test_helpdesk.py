"""Resolved tickets from helpdesk exports. The fixtures follow the documented export shapes of Zendesk (tickets
with comments and users) and Chatwoot (conversations with messages); their content is ours."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import deflect.cli_sources  # noqa: F401  (registers the command)
from deflect.cli import app
from deflect.ingest.helpdesk import from_chatwoot, from_csv, from_zendesk, parse_mapping, to_jsonl
from deflect.ingest.sources import parse_escalations

ZENDESK = {
    "tickets": [
        {
            "id": 101,
            "subject": "Kettle will not heat",
            "description": "My kettle will not heat.",
            "status": "solved",
            "requester_id": 9001,
            "tags": ["heating"],
            "solved_at": "2026-05-01T10:00:00Z",
            "comments": [
                {"id": 1, "author_id": 9001, "body": "It stays cold. Jane Doe, +44 20 7946 0958", "public": True},
                {"id": 2, "author_id": 500, "body": "Note: on warranty until June.", "public": False},
                {"id": 3, "author_id": 500, "body": "Try the reset first.", "public": True},
                {"id": 4, "author_id": 9001, "body": "Still cold.", "public": True},
                {"id": 5, "author_id": 500, "body": "Hold the switch for 10 seconds to reset it.", "public": True},
            ],
        },
        {"id": 102, "subject": "Lid", "status": "open", "requester_id": 9002, "comments": []},
        {
            "id": 103,
            "subject": "Refund",
            "status": "closed",
            "requester_id": 9002,
            "comments": [
                {"id": 6, "author_id": 9002, "body": "Please refund my order.", "public": True},
                {"id": 7, "author_id": 500, "body": "Refunded under policy R-2 (internal).", "public": False},
            ],
        },
        {
            "id": 104,
            "subject": "No reply",
            "status": "solved",
            "requester_id": 9002,
            "comments": [{"id": 8, "author_id": 9002, "body": "Hello?", "public": True}],
        },
    ],
    "users": [
        {"id": 9001, "name": "Jane Doe", "role": "end-user"},
        {"id": 9002, "name": "Ravi Kumar", "role": "end-user"},
        {"id": 500, "name": "Al Agent", "role": "agent"},
    ],
}

CHATWOOT = {
    "payload": [
        {
            "id": 7,
            "status": "resolved",
            "labels": ["billing"],
            "meta": {"sender": {"name": "Bob Smith", "email": "bob@example.com"}},
            "additional_attributes": {"mail_subject": "Charged twice"},
            "last_activity_at": 1767225600,
            "messages": [
                {"content": "I was charged twice. Reach me at bob@example.com", "message_type": 0, "private": False},
                {"content": "Duplicate charge confirmed in Stripe.", "message_type": 1, "private": True},
                {
                    "content": "We refunded the duplicate charge; it shows within 5 days.",
                    "message_type": 1,
                    "private": False,
                },
                {"content": "Conversation was marked resolved by Al", "message_type": 2, "private": False},
            ],
        },
        {"id": 8, "status": "open", "messages": [{"content": "Hi", "message_type": 0}]},
    ]
}

CSV = """Ticket ID,State,Title,Description,Final answer,Requester
55,Solved,Descaling,How often should I descale? - Mia Wong,Descale monthly in hard-water areas.,Mia Wong
56,Open,Handle,The handle is loose,,Tom
57,Solved,Empty,,Nothing,Tom
"""


def test_zendesk_keeps_solved_tickets_with_the_last_public_agent_reply() -> None:
    result = from_zendesk(json.dumps(ZENDESK))

    records = {r["id"]: r for r in result.records}
    assert set(records) == {"zendesk-101", "zendesk-103"}
    first = records["zendesk-101"]
    assert first["resolution"] == "Hold the switch for 10 seconds to reset it."
    assert first["question"].startswith("It stays cold.")
    assert "Jane Doe" not in first["question"] and "7946" not in first["question"]  # scrubbed
    assert first["tags"] == ["heating"] and first["resolved_at"] == "2026-05-01T10:00:00Z"
    assert "warranty" not in json.dumps(first)  # an internal note never leaks into a public-reply ticket
    assert result.skipped == ["ticket 102: status open"]
    assert result.failed == ["zendesk-104: no agent reply"]


def test_a_ticket_answered_only_in_internal_notes_stays_internal_even_when_public_was_asked() -> None:
    records = {r["id"]: r for r in from_zendesk(json.dumps(ZENDESK), audience="public").records}

    assert records["zendesk-103"]["audience"] == "internal"
    assert records["zendesk-103"]["resolution"] == "Refunded under policy R-2 (internal)."
    assert records["zendesk-101"]["audience"] == "public"


def test_chatwoot_keeps_resolved_conversations_and_private_notes_out_of_the_resolution() -> None:
    lines = "\n".join(json.dumps(c) for c in CHATWOOT["payload"])  # the one-per-line form too

    for text in (json.dumps(CHATWOOT), lines):
        result = from_chatwoot(text)
        (record,) = result.records
        assert record["id"] == "chatwoot-7"
        assert record["subject"] == "Charged twice"
        assert record["resolution"] == "We refunded the duplicate charge; it shows within 5 days."
        assert "bob@example.com" not in record["question"] and "[EMAIL]" in record["question"]
        assert record["tags"] == ["billing"]
        assert result.skipped == ["conversation 8: status open"]


def test_csv_with_a_column_mapping() -> None:
    mapping = parse_mapping(
        [
            "id=Ticket ID,status=State,subject=Title",
            "question=Description",
            "resolution=Final answer,customer=Requester",
        ]
    )

    result = from_csv(CSV, mapping)

    (record,) = result.records
    assert record["id"] == "csv-55"
    assert record["resolution"] == "Descale monthly in hard-water areas."
    assert "Mia Wong" not in record["question"]
    assert result.skipped == ["row 3 (ticket 56): status open"]
    assert result.failed == ["row 4 (ticket 57): empty question"]


@pytest.mark.parametrize("pairs", [["question"], ["colour=Red"], ["question="]])
def test_a_bad_mapping_is_refused(pairs: list[str]) -> None:
    with pytest.raises(ValueError, match="bad mapping"):
        parse_mapping(pairs)


def test_a_csv_without_the_mapped_columns_fails_with_the_columns_it_has() -> None:
    result = from_csv(CSV, parse_mapping(["question=Body"]))

    assert result.records == []
    assert "question (column 'Body')" in result.failed[0] and "Description" in result.failed[0]


def test_imported_records_are_escalations_ingestion_reads_unchanged() -> None:
    text = to_jsonl(from_zendesk(json.dumps(ZENDESK)).records + from_chatwoot(json.dumps(CHATWOOT)).records)

    docs, errors = parse_escalations(text, "escalations/imported.jsonl", "sig")

    assert errors == []
    assert [d.source_id for d in docs] == ["esc:chatwoot-7", "esc:zendesk-101", "esc:zendesk-103"]
    assert {d.audience for d in docs} == {"internal"}


def test_the_import_command_writes_jsonl_into_the_kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFLECT_KB_DIR", str(tmp_path / "kb"))
    export = tmp_path / "tickets.json"
    export.write_text(json.dumps(ZENDESK), encoding="utf-8")

    result = CliRunner().invoke(app, ["import-tickets", str(export), "--format", "zendesk", "--json"])

    assert result.exit_code == 3, result.output  # imported, but ticket 104 failed: a script should look
    summary = json.loads(result.stdout)
    assert summary["imported"] == 2 and summary["failed"] == ["zendesk-104: no agent reply"]
    written = Path(summary["out"])
    assert written.parent == tmp_path / "kb" / "escalations"
    assert [json.loads(line)["id"] for line in written.read_text().splitlines()] == ["zendesk-101", "zendesk-103"]


def test_the_import_command_refuses_a_bad_format_with_exit_2(tmp_path: Path) -> None:
    export = tmp_path / "t.csv"
    export.write_text(CSV, encoding="utf-8")

    result = CliRunner().invoke(app, ["import-tickets", str(export), "--format", "freshdesk"])

    assert result.exit_code == 2 and "Traceback" not in result.output


CSV_MAP = ["id=Ticket ID,status=State,subject=Title,question=Description,resolution=Final answer"]


def import_csv(tmp_path: Path, text: str, mapping: list[str]) -> tuple[int, dict[str, object]]:
    export = tmp_path / "tickets.csv"
    export.write_text(text, encoding="utf-8")
    args = ["import-tickets", str(export), "--out", str(tmp_path / "out.jsonl"), "--json"]
    result = CliRunner().invoke(app, args + [f"--map={m}" for m in mapping])
    return result.exit_code, json.loads(result.stdout)


def test_an_import_where_every_solved_ticket_is_imported_exits_0(tmp_path: Path) -> None:
    solved = "\n".join(CSV.splitlines()[:3]) + "\n"  # the header, a solved ticket and an open one

    code, summary = import_csv(tmp_path, solved, CSV_MAP)

    assert (code, summary["imported"], summary["failed"]) == (0, 1, [])


def test_an_import_with_failed_rows_exits_3_and_writes_the_others(tmp_path: Path) -> None:
    code, summary = import_csv(tmp_path, CSV, CSV_MAP)

    assert (code, summary["imported"], summary["failed"]) == (3, 1, ["row 4 (ticket 57): empty question"])
    assert (tmp_path / "out.jsonl").is_file()


@pytest.mark.parametrize(
    "mapping",
    [["question=Body,resolution=Final answer"], [CSV_MAP[0].replace("status=State", "status=Requester")]],
    ids=["missing column", "wrong status column"],
)
def test_an_import_that_imports_nothing_from_a_file_with_tickets_exits_2(tmp_path: Path, mapping: list[str]) -> None:
    code, summary = import_csv(tmp_path, CSV, mapping)

    assert (code, summary["imported"], summary["out"]) == (2, 0, None)
    assert not (tmp_path / "out.jsonl").exists()


def test_an_export_without_tickets_imports_nothing_and_exits_0(tmp_path: Path) -> None:
    code, summary = import_csv(tmp_path, CSV.splitlines()[0] + "\n", CSV_MAP)

    assert (code, summary["imported"], summary["failed"]) == (0, 0, [])


def test_the_import_command_documents_its_exit_codes() -> None:
    text = " ".join(CliRunner().invoke(app, ["import-tickets", "--help"]).stdout.split())

    assert "Exit codes: 0" in text and "3 some imported" in text and "2 nothing imported" in text


EXPORT_CSV = """Ticket ID,Subject,Status,Description,Final answer
61,Descaling,Solved,How often should I descale?,Descale monthly in hard-water areas.
62,Handle,Open,The handle is loose,
63,Broken row,Solved,"Ann,"oops","x",y
"""


def test_csv_columns_are_found_whatever_their_case_so_open_tickets_stay_out() -> None:
    result = from_csv(EXPORT_CSV, parse_mapping(["id=ticket id,question=description,resolution=FINAL ANSWER"]))

    assert [r["id"] for r in result.records] == ["csv-61"]  # "Status" is the status column: 62 is open
    assert result.skipped == ["row 3 (ticket 62): status open"] and result.notes == []


def test_a_row_whose_fields_do_not_match_the_header_is_refused_never_imported() -> None:
    result = from_csv(EXPORT_CSV, parse_mapping(["question=Description,resolution=Final answer"]))

    assert all(r["question"] != "x" for r in result.records)
    assert result.failed == ["row ending on line 4: 6 fields, the header has 5"]


def test_a_mapped_column_the_file_lacks_is_an_error_naming_the_columns_it_has() -> None:
    result = from_csv(EXPORT_CSV, parse_mapping(["id=Ticket,question=Description,resolution=Final answer"]))

    assert result.records == []
    assert "id (column 'Ticket')" in result.failed[0] and "'Ticket ID'" in result.failed[0]


def test_a_csv_without_a_status_column_says_every_row_was_taken_as_solved() -> None:
    text = "Description,Answer\nHow do I descale?,Monthly.\n"

    result = from_csv(text, parse_mapping(["question=Description,resolution=Answer"]))

    assert len(result.records) == 1
    assert any("no status column" in note for note in result.notes)
    assert any("no id column" in note for note in result.notes)


def test_chatwoot_s_list_conversations_api_reply_is_read() -> None:
    reply = {"data": {"meta": {"mine_count": 1, "all_count": 2}, "payload": CHATWOOT["payload"]}}

    result = from_chatwoot(json.dumps(reply))

    assert [r["id"] for r in result.records] == ["chatwoot-7"]


@pytest.mark.parametrize(
    ("reader", "doc"),
    [
        (from_chatwoot, {"data": {"meta": {}}}),
        (from_chatwoot, {"conversations": []}),
        (from_zendesk, {"ticket": {"id": 1}}),
        (from_zendesk, "just a string"),
    ],
)
def test_an_export_of_another_shape_is_one_clear_error(reader: object, doc: object) -> None:
    with pytest.raises(ValueError, match="not an export this format reads: expected"):
        reader(json.dumps(doc))  # type: ignore[operator]


def test_a_malformed_ticket_inside_a_good_export_is_a_failed_row() -> None:
    doc = {"tickets": [*ZENDESK["tickets"], {"id": 104, "status": "solved", "comments": "oops"}, "not a ticket"]}

    result = from_zendesk(json.dumps(doc))

    assert "ticket 104: comments is not a list" in result.failed and "item 6: not a ticket object" in result.failed
    assert "zendesk-101" in [r["id"] for r in result.records]


def test_the_command_reports_a_wrong_shape_in_one_line_with_exit_2(tmp_path: Path) -> None:
    export = tmp_path / "api.json"
    export.write_text(json.dumps({"data": {"meta": {}}}), encoding="utf-8")

    result = CliRunner().invoke(app, ["import-tickets", str(export), "--format", "chatwoot"])

    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "error (validation_failed): not an export this format reads" in result.output


def test_an_imported_resolution_is_the_reply_without_its_greeting_and_sign_off() -> None:
    doc = {
        "payload": [
            {
                "id": 9,
                "status": "resolved",
                "meta": {"sender": {"name": "Ingrid Holm"}},
                "messages": [
                    {"content": "How do I change the passphrase of my repo key?", "message_type": 0},
                    {"content": "Hi Ingrid! Use borg key change-passphrase REPO. Cheers, Mark", "message_type": 1},
                ],
            }
        ]
    }

    (record,) = from_chatwoot(json.dumps(doc)).records

    assert record["resolution"] == "Use borg key change-passphrase REPO."

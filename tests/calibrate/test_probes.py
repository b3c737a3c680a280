"""Calibration probes made from the KB itself, and the shipped out-of-domain questions."""

from __future__ import annotations

from deflect.calibrate.probes import carried_by, out_of_domain, probes_from_chunks, sample, signposts
from deflect.domain.models import Chunk


def chunk(source_id: str, n: int, title: str, heading: str = "", text: str = "body", kind: str = "article") -> Chunk:
    quote_from = 0
    if kind == "escalation":
        text = f"{title}\n\nWhy does the export stop at 10,000 rows?\n\nResolution: split the export by month."
        quote_from = text.index("split")
    return Chunk(
        chunk_id=f"{source_id}#{n}",
        source_id=source_id,
        kind=kind,  # type: ignore[arg-type]
        title=title,
        heading_path=heading,
        audience="public",
        text=text,
        quote_from=quote_from,
        origin="x",
        source_hash="h",
        source_chunks=1,
    )


def test_articles_give_their_title_and_meaningful_headings_escalations_their_subject_and_question() -> None:
    chunks = [
        chunk("doc:a", 0, "Download invoices", "Billing > Receipts for expense reports"),
        chunk("doc:a", 1, "Download invoices", "Overview"),  # one content word: says nothing on its own
        chunk("esc:1", 0, "CSV export truncated", "Problem", kind="escalation"),
    ]

    texts = {(p.source_id, p.kind, p.text) for p in probes_from_chunks(chunks)}

    assert texts == {
        ("doc:a", "title", "Download invoices"),
        ("doc:a", "heading", "Receipts for expense reports"),
        ("esc:1", "escalation", "CSV export truncated"),
        ("esc:1", "escalation", "Why does the export stop at 10,000 rows?"),
    }


def test_a_question_heading_is_a_probe_even_when_short() -> None:
    probes = probes_from_chunks([chunk("doc:faq", 0, "Frequently asked", "Refunds?")])

    assert "Refunds?" in {p.text for p in probes}


def test_the_same_text_twice_is_one_probe() -> None:
    chunks = [chunk("doc:a", i, "Reset your password", "Reset your password") for i in range(3)]

    assert [p.text for p in probes_from_chunks(chunks)] == ["Reset your password"]


def test_a_heading_two_pages_share_is_one_probe_that_both_pages_answer() -> None:
    # a manual's usage page and the man page built from it repeat a section under the same heading
    chunks = [
        chunk("doc:usage/general", 0, "General", "Support for file metadata"),
        chunk("doc:man_intro", 0, "borg", "NOTES > Support for file metadata"),
    ]

    probe = next(p for p in probes_from_chunks(chunks) if p.text == "Support for file metadata")

    assert {probe.source_id, *probe.also} == {"doc:usage/general", "doc:man_intro"}
    assert probe.source_id not in probe.also


def test_a_page_whose_title_and_heading_path_hold_every_word_of_a_probe_poses_it_too() -> None:
    chunks = [
        chunk("doc:open", 0, "Opening a new database connection", "URI filenames"),
        chunk("doc:uri", 0, "URI filenames in the library", "Query string"),
        chunk("doc:uri", 1, "URI filenames in the library", "See also"),
        # both words, but under two different paths of one long page: not a page about URI filenames
        chunk("doc:storage", 0, "Storage", "URI parameters"),
        chunk("doc:storage", 1, "Storage", "Temporary filenames"),
        chunk("doc:tcl", 0, "Tcl interface", "Methods > The uri method"),
    ]

    posed = carried_by(["URI filenames", "Opening a connection to a database"], signposts(chunks))

    assert posed["URI filenames"] == {"doc:open", "doc:uri"}
    assert posed["Opening a connection to a database"] == {"doc:open"}


def test_posing_compares_stems_and_ignores_stop_words_and_heading_separators() -> None:
    posts = signposts([chunk("doc:reset", 0, "Reset your password", "Account > Locked out")])

    posed = carried_by(["Resetting passwords", "Locked account", "How do I?", "Password for billing"], posts)

    assert posed == {
        "Resetting passwords": {"doc:reset"},
        "Locked account": {"doc:reset"},
        "How do I?": set(),  # no content word: says nothing about which page
        "Password for billing": set(),
    }


def test_sample_takes_one_probe_per_source_before_a_second_and_is_stable() -> None:
    chunks = [
        chunk(f"doc:{s}", i, f"Title of {s} page", f"Section {i} about {s} things") for s in "abcd" for i in range(3)
    ]
    pool = probes_from_chunks(chunks)

    picked = sample(pool, 4)

    assert sorted(p.source_id for p in picked) == ["doc:a", "doc:b", "doc:c", "doc:d"]
    assert sample(list(reversed(pool)), 4) == picked
    assert len(sample(pool, 1000)) == len(pool)


def test_out_of_domain_questions_ship_with_the_package() -> None:
    questions = out_of_domain()

    assert len(questions) >= 80
    assert all(q.kind == "out_of_domain" and q.source_id == "" for q in questions)
    assert len({q.text for q in questions}) == len(questions)

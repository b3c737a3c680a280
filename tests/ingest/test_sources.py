"""Parsing knowledge files into SourceDocs, and reporting broken ones without stopping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deflect.domain.models import SourceDoc
from deflect.errors import SourceError
from deflect.ingest.sources import ParsedSources, parse_escalations, parse_html, parse_markdown, parse_paths

SIG = "chunker-test|hash-256"
KB_SOURCES = {
    "doc:articles/reset-password",
    "doc:articles/invoices",
    "doc:internal/credits",
    "esc:ESC-1",
    "esc:ESC-2",
}


def parse_kb(kb: Path, signature: str = SIG) -> ParsedSources:
    return parse_paths([kb], kb, signature)


def by_id(parsed: ParsedSources) -> dict[str, SourceDoc]:
    return {d.source_id: d for d in parsed.docs}


def only_error(parsed: ParsedSources) -> SourceError:
    assert len(parsed.errors) == 1, [str(e) for e in parsed.errors]
    return parsed.errors[0]


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def escalation_line(esc_id: str, **overrides: object) -> str:
    record: dict[str, object] = {
        "id": esc_id,
        "subject": f"Subject {esc_id}",
        "question": f"Question about {esc_id}?",
        "resolution": f"Resolution of {esc_id}.",
    }
    record.update(overrides)
    return json.dumps({k: v for k, v in record.items() if v is not None})


# --- well-formed sources -----------------------------------------------------------------------------------


def test_the_tiny_kb_parses_without_errors(kb: Path) -> None:
    parsed = parse_kb(kb)

    assert {d.source_id for d in parsed.docs} == KB_SOURCES
    assert parsed.errors == []
    assert parsed.damaged_origins == set()
    assert parsed.origins == {
        "articles/reset-password.md",
        "articles/invoices.html",
        "internal/credits.md",
        "escalations/2026.jsonl",
    }


def test_markdown_front_matter_becomes_source_fields(kb: Path) -> None:
    doc = by_id(parse_kb(kb))["doc:articles/reset-password"]

    assert doc.kind == "article"
    assert doc.title == "Resetting your password"
    assert doc.url == "https://help.example/accounts/reset-password"
    assert doc.audience == "public"
    assert doc.product == "accounts"
    assert doc.tags == ("login", "password")
    assert doc.updated == "2026-01-10"  # a YAML date, kept as ISO text
    assert doc.origin == "articles/reset-password.md"
    assert doc.resolution == ""
    assert doc.body.startswith("# Resetting your password\n")
    assert "---" not in doc.body and "audience:" not in doc.body


def test_markdown_id_is_the_path_without_extension_and_audience_is_read(kb: Path) -> None:
    doc = by_id(parse_kb(kb))["doc:internal/credits"]

    assert doc.origin == "internal/credits.md"
    assert doc.audience == "internal"


def test_markdown_defaults_and_comma_separated_tags() -> None:
    text = "---\ntitle: Plain\ntags: a, b ,c\n---\nSome body.\n"

    doc = parse_markdown(text, "guides/v1.2/plain.markdown", SIG)

    assert doc.source_id == "doc:guides/v1.2/plain"
    assert doc.audience == "public"
    assert doc.tags == ("a", "b", "c")
    assert (doc.url, doc.product, doc.updated) == ("", "", "")


HELP_PAGE = """<!doctype html><html><head><title>Export data</title>
<meta name="url" content="https://help.example/data/export"><meta name="audience" content="internal">
<meta name="product" content="data"><meta name="tags" content="export, csv">
<meta name="updated" content="2026-06-01">
</head><body><header>Acme Help Centre</header><nav><a href="/">Home</a> &gt; <a href="/data">Data</a></nav>
<main><h1>Export data</h1>
<p>Use the <a href="#">export tool</a>, then wait <b>five</b> minutes . Exports include <em>all</em> rows
(<a href="#">see limits</a>).</p>
<h2>Export to CSV</h2>
<ol><li>Open <b>Settings</b>.</li><li>Click <i>Export</i>; choose <code>CSV</code>!</li>
<li>Check your email?</li></ol>
<h3>Good to know</h3>
<ul><li>Large exports take <b>longer</b>.</li></ul>
<ol><li>A second list starts at one.</li></ol>
<script>trackPageView();</script></main>
<aside>Related articles</aside><footer>Was this article helpful?</footer></body></html>
"""


def test_html_page_metadata_is_read_from_title_and_meta() -> None:
    doc = parse_html(HELP_PAGE, "help/export.html", SIG)

    assert doc.source_id == "doc:help/export"
    assert doc.kind == "article"
    assert doc.title == "Export data"
    assert doc.url == "https://help.example/data/export"
    assert doc.audience == "internal"
    assert doc.product == "data"
    assert doc.tags == ("export", "csv")
    assert doc.updated == "2026-06-01"


def test_html_page_body_drops_chrome_and_keeps_structure_as_markdown() -> None:
    body = parse_html(HELP_PAGE, "help/export.html", SIG).body

    chrome = ["Acme Help Centre", "Home", "Related articles", "Was this article helpful", "trackPageView"]
    assert [c for c in chrome if c in body] == []
    lines = body.splitlines()
    assert "# Export data" in lines
    assert "## Export to CSV" in lines
    assert "### Good to know" in lines
    assert "1. Open **Settings**." in lines
    assert "2. Click *Export*; choose `CSV`!" in lines
    assert "3. Check your email?" in lines
    assert "- Large exports take **longer**." in lines
    assert "1. A second list starts at one." in lines
    # Text is kept as written: no space "normalisation", which corrupted commands such as `git add .gitignore`.
    assert "Use the export tool, then wait **five** minutes . Exports include *all* rows (see limits)." in lines


def test_html_title_falls_back_to_the_first_heading() -> None:
    doc = parse_html("<html><body><h1>Only a heading</h1><p>Text.</p></body></html>", "h.html", SIG)

    assert doc.title == "Only a heading"
    assert doc.audience == "public"


def test_escalations_become_internal_by_default_and_keep_their_resolution(kb: Path) -> None:
    docs = by_id(parse_kb(kb))
    first, second = docs["esc:ESC-1"], docs["esc:ESC-2"]

    assert first.kind == "escalation"
    assert first.title == "Webhook signature fails"
    assert first.body == "Our webhook signature check fails on every delivery."
    assert first.resolution.startswith("They computed the HMAC over re-serialised JSON.")
    assert first.audience == "public"  # stated explicitly in the line
    assert first.tags == ("webhooks",)
    assert first.product == "api"
    assert first.updated == "2026-04-01T10:00:00Z"
    assert first.origin == "escalations/2026.jsonl"
    assert second.audience == "internal"  # not stated: escalations are internal unless marked public
    assert second.resolution.startswith("Refunds above the limit go to the billing lead")


# --- broken sources: each reported with its path (and line), the rest still parsed ------------------------


def bad(name: str, origin: str, content: bytes, message: str, line: int | None = None) -> object:
    """A broken file: where it goes, its bytes, words its error must contain, and the line it must name."""
    return pytest.param(origin, content, message, line, id=name)


BAD_FILES = [
    bad(
        "bad YAML front matter",
        "articles/bad-yaml.md",
        b"---\ntitle: Broken\naudience: [public\nurl: x\n---\nBody.\n",
        "bad front matter",
        line=4,
    ),
    bad(
        "YAML date that does not exist",
        "articles/bad-date.md",
        b"---\ntitle: Broken\nupdated: 2026-13-45\n---\nBody.\n",
        "bad front matter",
    ),
    bad("bad audience", "articles/everyone.md", b"---\ntitle: T\naudience: all\n---\nBody.\n", "'all'"),
    bad("tags neither list nor text", "articles/tags.md", b"---\ntitle: T\ntags: {a: 1}\n---\nB.\n", "tags"),
    bad("not a PDF", "articles/fake.pdf", b"<html>not a pdf</html>", "not a PDF"),
    bad("PDF cut short", "articles/cut.pdf", b"%PDF-1.7\n1 0 obj\n<<", "PDF"),
    bad("binary junk", "articles/logo.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01", "binary"),
    bad("not UTF-8", "articles/latin1.md", "---\ntitle: Café\n---\nCrème.\n".encode("latin-1"), "UTF-8"),
    bad("empty file", "articles/empty.md", b"", "empty"),
    bad("whitespace only", "escalations/blank.jsonl", b"\n  \n\t\n", "empty"),
]


@pytest.mark.parametrize(
    ("origin", "content"),
    [
        ("articles/hollow.md", b"---\ntitle: T\n---\n\n"),
        ("articles/anon.html", b"<html><body><nav>Home</nav></body></html>"),
        ("articles/contents.md", b"# Contents\n\n## Part one\n"),
    ],
)
def test_a_file_that_parses_to_no_text_is_skipped_not_failed(kb: Path, origin: str, content: bytes) -> None:
    # Not a fault to fix: there is nothing in it to index. (pipeline: its old chunks leave the index, as a failed
    # file's would not.)
    (kb / origin).write_bytes(content)

    parsed = parse_kb(kb)

    assert parsed.errors == []
    assert origin not in parsed.damaged_origins
    assert [(s.path, s.reason) for s in parsed.skipped] == [(origin, "no text besides headings")]
    assert {d.source_id for d in parsed.docs} == KB_SOURCES


@pytest.mark.parametrize(("origin", "content", "message", "line"), BAD_FILES)
def test_a_broken_file_is_reported_and_the_others_still_parse(
    kb: Path, origin: str, content: bytes, message: str, line: int | None
) -> None:
    (kb / origin).write_bytes(content)

    parsed = parse_kb(kb)

    err = only_error(parsed)
    assert isinstance(err, SourceError)
    assert err.path == origin
    assert str(err).startswith(origin)
    assert message.lower() in str(err).lower()
    if line is not None:
        assert err.line == line
        assert str(err).startswith(f"{origin}:{line}:")
    assert parsed.damaged_origins == {origin}
    assert {d.source_id for d in parsed.docs} == KB_SOURCES


def test_an_invalid_json_line_is_reported_and_its_neighbours_parse(kb: Path) -> None:
    lines = [escalation_line("ESC-10"), '{"id": "ESC-11", "subject": "cut off', escalation_line("ESC-12")]
    (kb / "escalations" / "2027.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    parsed = parse_kb(kb)

    err = only_error(parsed)
    assert (err.path, err.line) == ("escalations/2027.jsonl", 2)
    assert "invalid JSON" in str(err)
    assert {"esc:ESC-10", "esc:ESC-12"} | KB_SOURCES == {d.source_id for d in parsed.docs}
    assert parsed.damaged_origins == {"escalations/2027.jsonl"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (escalation_line("ESC-11", resolution=None), "resolution"),
        (escalation_line("ESC-11", resolution="   "), "resolution"),
        (escalation_line("ESC-11", question=None, subject=None), "subject, question"),
        (escalation_line("ESC-11", audience="partners"), "partners"),
        ("[1, 2, 3]", "JSON object"),
    ],
    ids=["missing resolution", "blank resolution", "no subject or question", "bad audience", "not an object"],
)
def test_an_incomplete_escalation_line_is_reported_with_its_line(line: str, message: str) -> None:
    text = "\n".join([escalation_line("ESC-10"), "", line, escalation_line("ESC-12")]) + "\n"

    docs, errors = parse_escalations(text, "escalations/2027.jsonl", SIG)

    assert [d.source_id for d in docs] == ["esc:ESC-10", "esc:ESC-12"]
    assert len(errors) == 1
    assert (errors[0].path, errors[0].line) == ("escalations/2027.jsonl", 3)  # blank lines still count
    assert message in str(errors[0])


def test_a_duplicate_escalation_id_in_another_file_is_reported_and_the_first_kept(kb: Path) -> None:
    lines = [escalation_line("ESC-20"), escalation_line("ESC-1", subject="A different ESC-1")]
    (kb / "escalations" / "2027.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    parsed = parse_kb(kb)

    err = only_error(parsed)
    assert err.path == "escalations/2027.jsonl"
    assert "duplicate source id esc:ESC-1" in str(err)
    docs = by_id(parsed)
    assert [d.source_id for d in parsed.docs].count("esc:ESC-1") == 1
    assert docs["esc:ESC-1"].title == "Webhook signature fails"
    assert docs["esc:ESC-1"].origin == "escalations/2026.jsonl"
    assert "esc:ESC-20" in docs
    assert parsed.damaged_origins == {"escalations/2027.jsonl"}


def test_several_broken_files_are_all_reported(kb: Path) -> None:
    (kb / "articles" / "empty.md").write_bytes(b"")
    (kb / "articles" / "bad.md").write_text("---\ntitle: [x\n---\nBody.\n", encoding="utf-8")
    jsonl = "not json\n" + escalation_line("ESC-30") + "\n"
    (kb / "escalations" / "2027.jsonl").write_text(jsonl, encoding="utf-8")

    parsed = parse_kb(kb)

    broken = ["articles/bad.md", "articles/empty.md", "escalations/2027.jsonl"]
    assert sorted(e.path for e in parsed.errors) == broken
    assert {d.source_id for d in parsed.docs} == KB_SOURCES | {"esc:ESC-30"}


# --- content hashes ----------------------------------------------------------------------------------------


def test_content_hash_is_stable_for_the_same_input_and_signature(kb: Path) -> None:
    first = {d.source_id: d.content_hash for d in parse_kb(kb).docs}
    second = {d.source_id: d.content_hash for d in parse_kb(kb).docs}

    assert first == second
    assert len(set(first.values())) == len(first)  # distinct sources, distinct hashes


def test_content_hash_changes_with_the_signature(kb: Path) -> None:
    before = {d.source_id: d.content_hash for d in parse_kb(kb, "chunker-v3:200:30|hash-256").docs}
    after = {d.source_id: d.content_hash for d in parse_kb(kb, "chunker-v3:200:30|hash-128").docs}

    assert before.keys() == after.keys()
    assert all(before[sid] != after[sid] for sid in before)


def test_content_hash_changes_only_for_the_edited_source(kb: Path) -> None:
    before = {d.source_id: d.content_hash for d in parse_kb(kb).docs}
    replace(kb / "articles" / "reset-password.md", "60 minutes", "30 minutes")
    replace(kb / "escalations" / "2026.jsonl", "billing lead", "finance lead")

    after = {d.source_id: d.content_hash for d in parse_kb(kb).docs}

    changed = {sid for sid in before if before[sid] != after[sid]}
    assert changed == {"doc:articles/reset-password", "esc:ESC-2"}


@pytest.mark.parametrize(
    "edit",
    [
        ("title: Plain", "title: Plainer"),
        ("audience: public", "audience: internal"),
        ("tags: [a]", "tags: [a, b]"),
        ("url: https://a", "url: https://b"),
    ],
    ids=["title", "audience", "tags", "url"],
)
def test_content_hash_covers_metadata_not_just_the_body(edit: tuple[str, str]) -> None:
    text = "---\ntitle: Plain\naudience: public\ntags: [a]\nurl: https://a\n---\nSame body.\n"

    before = parse_markdown(text, "p.md", SIG).content_hash
    after = parse_markdown(text.replace(*edit), "p.md", SIG).content_hash

    assert before != after

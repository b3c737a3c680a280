"""Heading-aware article chunks and question/resolution escalation chunks."""

from __future__ import annotations

import json
import re

import pytest

from deflect.domain.models import Chunk, SourceDoc
from deflect.ingest.chunking import Chunker
from deflect.ingest.sources import parse_escalations, parse_html, parse_markdown

SIG = "test-signature"
QUESTION = "Why did webhook retries stop after 3 tries?"
FIX = "Retries stop once the endpoint returns 410 Gone. Return 5xx to keep retrying."

GUIDE = """---
title: Workspace guide
url: https://help.example/guide
audience: internal
product: workspace
tags: [setup, data]
updated: 2026-03-03
---
# Workspace guide

This guide covers setup and data.

## Import/export

### CSV files

CSV imports accept up to 10,000 rows.

## Billing

### Plans

#### Annual plans

Annual plans renew every twelve months.

### Seats

Add seats from the admin page.
"""


def guide() -> SourceDoc:
    return parse_markdown(GUIDE, "guides/workspace.md", SIG)


def sentences(n: int) -> list[str]:
    return [f"Step {i} of the migration moves batch {i} of the widgets to the new store." for i in range(n)]


def long_article(n: int = 40) -> SourceDoc:
    body = "## Migrating data\n\n" + " ".join(sentences(n)) + "\n"
    return parse_markdown(f"---\ntitle: Long\n---\n{body}", "guides/long.md", SIG)


def escalation(resolution: str, audience: str | None = None) -> SourceDoc:
    record = {
        "id": "ESC-7",
        "subject": "Webhook retries stop",
        "question": QUESTION,
        "resolution": resolution,
        "tags": ["webhooks"],
        "product": "api",
        "resolved_at": "2026-04-01",
    }
    if audience:
        record["audience"] = audience
    docs, errors = parse_escalations(json.dumps(record), "escalations/2026.jsonl", SIG)
    assert errors == []
    return docs[0]


# --- articles ----------------------------------------------------------------------------------------------


def test_article_chunks_carry_the_source_fields() -> None:
    doc = guide()

    chunks = Chunker(200, 30).chunk(doc)

    assert len(chunks) == 4
    assert [c.chunk_id for c in chunks] == [f"doc:guides/workspace#{i}" for i in range(4)]
    for chunk in chunks:
        assert chunk.source_id == doc.source_id
        assert chunk.kind == "article"
        assert chunk.title == "Workspace guide"
        assert chunk.url == "https://help.example/guide"
        assert chunk.audience == "internal"
        assert chunk.product == "workspace"
        assert chunk.tags == ("setup", "data")
        assert chunk.updated == "2026-03-03"
        assert chunk.origin == "guides/workspace.md"
        assert chunk.source_hash == doc.content_hash
        assert chunk.source_chunks == 4


def test_heading_path_names_every_parent_heading_but_not_the_title() -> None:
    chunks = Chunker(200, 30).chunk(guide())

    assert [c.heading_path for c in chunks] == [
        "",  # the intro sits under the H1, which repeats the title
        "Import/export > CSV files",  # a "/" inside a heading is not a path separator
        "Billing > Plans > Annual plans",
        "Billing > Seats",
    ]


def test_headings_without_text_of_their_own_make_no_chunk() -> None:
    chunks = Chunker(200, 30).chunk(guide())

    assert all(c.quotable.strip() for c in chunks)
    assert not any(c.text.startswith(("Import/export\n", "Billing\n", "Plans\n")) for c in chunks)


def test_the_heading_is_context_but_never_quotable() -> None:
    chunks = Chunker(200, 30).chunk(guide())
    csv = chunks[1]

    assert csv.text == "CSV files\n\nCSV imports accept up to 10,000 rows."
    assert csv.quote_from == len("CSV files\n\n")
    assert csv.quotable == "CSV imports accept up to 10,000 rows."
    # The embedding sees title and path, so a question about "importing CSV" finds the section.
    assert csv.embed_text == ("Workspace guide\nImport/export > CSV files\n\nCSV imports accept up to 10,000 rows.")
    intro = chunks[0]
    assert intro.quote_from == 0
    assert intro.quotable == intro.text == "This guide covers setup and data."


def test_long_sections_are_split_and_every_part_keeps_its_heading() -> None:
    doc = long_article(40)

    chunks = Chunker(60, 10).chunk(doc)

    assert len(chunks) > 3
    assert [c.chunk_id for c in chunks] == [f"doc:guides/long#{i}" for i in range(len(chunks))]
    assert {c.source_chunks for c in chunks} == {len(chunks)}
    for chunk in chunks:
        assert chunk.heading_path == "Migrating data"
        assert chunk.text.startswith("Migrating data\n\n")
        assert not chunk.quotable.startswith("Migrating data")
        assert len(re.findall(r"\w+", chunk.quotable)) < 100  # far below the 600-odd words of the section
    quoted = " ".join(c.quotable for c in chunks)
    assert all(sentence in quoted for sentence in sentences(40))
    assert chunks[0].quotable.startswith("Step 0 of")
    assert chunks[-1].quotable.endswith("batch 39 of the widgets to the new store.")


def test_a_smaller_chunk_size_gives_more_chunks_and_another_signature() -> None:
    big, small = Chunker(400, 30), Chunker(60, 10)

    assert len(small.chunk(long_article())) > len(big.chunk(long_article()))
    assert big.signature != small.signature
    assert Chunker(400, 30).signature == big.signature


def test_chunking_is_deterministic() -> None:
    doc = guide()

    assert Chunker(60, 10).chunk(doc) == Chunker(60, 10).chunk(doc)


# --- escalations -------------------------------------------------------------------------------------------


def resolution_chunks(chunks: list[Chunk]) -> list[Chunk]:
    return [c for c in chunks if c.heading_path == "Resolution"]


def test_an_escalation_gives_a_question_only_chunk_and_resolution_chunks() -> None:
    doc = escalation(FIX)

    chunks = Chunker(200, 30).chunk(doc)

    assert [c.chunk_id for c in chunks] == ["esc:ESC-7#0", "esc:ESC-7#1"]
    problem, answer = chunks
    assert problem.heading_path == "Problem"
    assert "Why did webhook retries stop after 3 tries?" in problem.embed_text
    assert "Webhook retries stop" in problem.embed_text
    assert "410" not in problem.embed_text and "Resolution" not in problem.embed_text
    assert answer.heading_path == "Resolution"
    assert "Why did webhook retries stop" in answer.embed_text and "410 Gone" in answer.embed_text
    for chunk in chunks:
        assert chunk.kind == "escalation"
        assert chunk.audience == "internal"  # escalations are internal unless marked public
        assert chunk.tags == ("webhooks",)
        assert chunk.source_chunks == 2
        assert chunk.source_hash == doc.content_hash


def test_every_escalation_chunk_quotes_only_the_resolution() -> None:
    doc = escalation(FIX, "public")

    chunks = Chunker(200, 30).chunk(doc)

    assert chunks[0].quotable == doc.resolution
    for chunk in chunks:
        assert chunk.quotable == doc.resolution
        assert "Why did webhook retries stop" in chunk.text  # the question is context ...
        assert "Why did webhook retries stop" not in chunk.quotable  # ... never an answer
        assert chunk.audience == "public"


def test_a_long_resolution_is_split_and_each_part_quotes_only_its_resolution_text() -> None:
    resolution = " ".join(sentences(30))
    doc = escalation(resolution)

    chunks = Chunker(60, 10).chunk(doc)

    parts = resolution_chunks(chunks)
    assert len(parts) > 2
    assert len(chunks) == len(parts) + 1
    assert chunks[0].quotable == resolution
    for part in parts:
        assert part.quotable in resolution
        assert part.quotable != resolution
        assert "Why did webhook retries stop" not in part.quotable
        assert part.embed_text == part.text  # question + this part of the resolution
    assert all(s in " ".join(p.quotable for p in parts) for s in sentences(30))
    assert {c.source_chunks for c in chunks} == {len(chunks)}


@pytest.mark.parametrize("size", [60, 200, 1000])
def test_chunk_ids_are_dense_from_zero(size: int) -> None:
    for doc in (guide(), long_article(), escalation(" ".join(sentences(12)))):
        chunks = Chunker(size, 10).chunk(doc)
        assert [c.chunk_id for c in chunks] == [f"{doc.source_id}#{i}" for i in range(len(chunks))]
        assert {c.source_chunks for c in chunks} == {len(chunks)}


# --- whole blocks -------------------------------------------------------------------------------------------

CODE = "\n".join(f"kettle step {i} --flag value-{i}" for i in range(12))
TABLE = "| Setting | Default | Meaning |\n| --- | --- | --- |\n" + "\n".join(
    f"| opt{i} | {i} | Controls the {i}th valve of the kettle. |" for i in range(12)
)
PROCEDURE = "\n".join(f"{i}. Turn valve {i} a quarter to the left, then wait until it clicks." for i in range(1, 9))
OPTIONS = "\n".join(
    f"- **`--valve-{i}`**: Opens valve {i}; the kettle waits for it before it boils again." for i in range(8)
)


def manual(body: str) -> SourceDoc:
    return parse_markdown(f"# Kettle manual\n\n{body}", "manual/kettle.md", SIG)


def quotables(doc: SourceDoc, size: int) -> list[str]:
    return [c.quotable for c in Chunker(size, 10).chunk(doc)]


def test_markdown_without_front_matter_chunks_under_its_first_heading() -> None:
    chunks = Chunker(200, 30).chunk(manual("## Valves\n\nValves open left.\n"))

    assert [(c.title, c.heading_path, c.quotable) for c in chunks] == [("Kettle manual", "Valves", "Valves open left.")]


@pytest.mark.parametrize("size", [60, 100, 200])
def test_a_code_block_that_fits_is_never_split(size: int) -> None:
    prose = " ".join(sentences(6))
    code = "\n".join(CODE.splitlines()[:3])
    doc = manual(f"## Steps\n\n{prose}\n\n```bash\n{code}\n```\n\n{prose}\n")

    block = f"```bash\n{code}\n```"
    assert sum(block in q for q in quotables(doc, size)) == 1


@pytest.mark.parametrize("size", [80, 200])
def test_tables_and_list_items_are_never_cut_inside(size: int) -> None:
    small_table = "\n".join(TABLE.splitlines()[:3])
    doc = manual(f"## Reference\n\n{small_table}\n\n{PROCEDURE}\n\n{OPTIONS}\n")

    parts = quotables(doc, size)

    for line in [*TABLE.splitlines()[:3], *PROCEDURE.splitlines(), *OPTIONS.splitlines()]:
        assert sum(line in p.splitlines() for p in parts) == 1, line  # whole, once
    table_parts = [p for p in parts if "| opt0 |" in p]
    assert table_parts and table_parts[0].startswith("| Setting | Default | Meaning |\n| --- |")


@pytest.mark.parametrize(("n", "size"), [(5, 100), (6, 120)])
def test_an_intro_ending_in_a_colon_opens_the_chunk_of_what_it_introduces(n: int, size: int) -> None:
    # a manual's "To descale the kettle, run:" must not end one chunk while its command opens the next
    prose = " ".join(sentences(n))
    code = "\n".join(CODE.splitlines()[:6])
    doc = manual(f"## Descaling\n\n{prose}\n\nTo descale the kettle, run:\n\n```bash\n{code}\n```\n")

    parts = quotables(doc, size)

    assert len(parts) > 1
    assert not any(p.rstrip().endswith("run:") for p in parts)
    assert sum(f"To descale the kettle, run:\n\n```bash\n{code}\n```" in p for p in parts) == 1
    assert sum(prose in p for p in parts) == 1  # nothing else moved or repeated


def test_an_intro_alone_in_its_chunk_stays_there() -> None:
    # carrying it would only leave an empty chunk behind
    code = "\n".join(CODE.splitlines()[:6])
    doc = manual(f"## Descaling\n\nTo descale the kettle, run:\n\n```bash\n{code}\n```\n")

    parts = quotables(doc, 40)

    assert parts[0].startswith("To descale the kettle, run:")
    assert all(p.strip() for p in parts)


def test_a_code_block_larger_than_a_chunk_is_split_at_lines_with_the_fence_reopened() -> None:
    doc = manual(f"## Steps\n\n```bash\n{CODE}\n```\n")

    parts = quotables(doc, 60)

    assert len(parts) > 1
    code_lines: list[str] = []
    for part in parts:
        assert part.startswith("```bash\n") and part.endswith("\n```")
        code_lines.extend(part.splitlines()[1:-1])
    assert code_lines == CODE.splitlines()  # every line once, in order, never cut


@pytest.mark.parametrize("marker", ["> ", "> > "], ids=["quote", "nested quote"])
def test_a_code_block_in_a_quote_larger_than_a_chunk_is_split_at_lines_with_its_markers(marker: str) -> None:
    # reStructuredText's `.. tab::` content becomes a block quote; its code was cut mid-line as prose.
    quoted = "\n".join(marker + line for line in ["Run it so:", "", "```bash", *CODE.splitlines(), "```"])
    doc = manual(f"## Steps\n\n{quoted}\n\nDone.\n")

    parts = [p for p in quotables(doc, 60) if "```" in p]

    assert len(parts) > 1
    code_lines: list[str] = []
    for part in parts:
        fenced = part[part.index(marker + "```bash") :].split("\n\n")[0]  # up to what follows the quote
        assert fenced.endswith(f"\n{marker}```")
        assert all(line.startswith(marker) for line in fenced.splitlines())
        code_lines.extend(line.removeprefix(marker) for line in fenced.splitlines()[1:-1])
    assert code_lines == CODE.splitlines()  # every line once, in order, never cut


def test_a_table_larger_than_a_chunk_repeats_its_header_row_in_every_part() -> None:
    doc = manual(f"## Settings\n\n{TABLE}\n")

    parts = quotables(doc, 80)

    assert len(parts) > 1
    rows: list[str] = []
    for part in parts:
        assert part.splitlines()[:2] == TABLE.splitlines()[:2]
        rows.extend(part.splitlines()[2:])
    assert rows == TABLE.splitlines()[2:]


def test_a_numbered_procedure_keeps_its_numbers_across_chunks() -> None:
    doc = manual(f"## Draining\n\n{PROCEDURE}\n")

    parts = quotables(doc, 60)

    assert len(parts) > 1
    assert "\n".join(parts).splitlines() == PROCEDURE.splitlines()


def test_a_list_item_larger_than_a_chunk_splits_between_its_nested_blocks() -> None:
    nested = "\n".join(f"  - **`valve.open{i}()`**: Opens valve {i} of the kettle and waits." for i in range(14))
    doc = manual(f"## API\n\n- **`class Kettle`**: The kettle.\n\n{nested}\n")

    parts = quotables(doc, 80)

    assert len(parts) > 1
    assert parts[0].startswith("- **`class Kettle`**: The kettle.")
    for i in range(14):
        entry = f"- **`valve.open{i}()`**: Opens valve {i} of the kettle and waits."
        assert sum(entry in p for p in parts) == 1


def test_an_indented_code_block_becomes_a_fenced_one_with_the_same_lines() -> None:
    doc = manual("## Run\n\nType:\n\n    kettle brew\n      --strength 3\n\nDone.\n")

    assert "```\nkettle brew\n  --strength 3\n```" in doc.body
    assert "Type:\n\n```\nkettle brew\n  --strength 3\n```" in Chunker(200, 30).chunk(doc)[0].quotable


def test_a_hash_line_inside_a_code_block_is_not_a_heading() -> None:
    doc = manual("## Install\n\n```bash\n# update first\napt-get update\n```\n\nThen install.\n")

    chunks = Chunker(200, 30).chunk(doc)

    assert [c.heading_path for c in chunks] == ["Install"]
    assert "# update first\napt-get update" in chunks[0].quotable


def test_the_signature_changes_with_the_block_chunker() -> None:
    assert Chunker(200, 30).signature.startswith("chunker-v9:")


def test_a_heading_anchor_leaves_the_heading_text_and_points_the_chunk_url_at_the_heading() -> None:
    text = "---\nurl: https://docs.example/kettle.html\n---\n# Kettle {#top}\n\n## Valves {#valves}\n\nOpen left.\n"
    doc = parse_markdown(text, "kettle.md", SIG)

    (chunk,) = Chunker(200, 30).chunk(doc)

    assert doc.title == "Kettle"
    assert (chunk.heading_path, chunk.text) == ("Valves", "Valves\n\nOpen left.")
    assert chunk.url == "https://docs.example/kettle.html#valves"


def test_html_inside_markdown_becomes_markdown_and_comments_disappear() -> None:
    body = (
        "## Limits\n\n<!-- TODO: check the numbers -->\n\n"
        "<table>\n<tr><th>Pot</th><th>Cups</th></tr>\n<tr><td>small</td><td>4</td></tr>\n</table>\n\nDone.\n"
    )

    doc = manual(body)

    assert "| Pot | Cups |\n| --- | --- |\n| small | 4 |" in doc.body
    assert "TODO" not in doc.body and "<table>" not in doc.body
    assert Chunker(200, 30).chunk(doc)[0].quotable.startswith("| Pot | Cups |")


def test_a_docbook_chapter_heading_with_no_break_spaces_is_still_recognised_as_the_title() -> None:
    """DocBook writes "9.&nbsp;Kettles" in the headings and "9. Kettles" in <title>: the chapter heading must not
    be repeated in every chunk's heading path (answers would read "9. Kettles > 9. Kettles > 9.1. Overview")."""
    page = (
        "<html><head><title>9. Kettles: boiling water</title></head><body>"
        "<h1>9.&nbsp;Kettles: boiling&nbsp;water</h1><p>Kettles boil water for tea and soup.</p>"
        "<h2>9.1.&nbsp;Overview</h2><p>Fill the kettle to the mark and press the switch.</p>"
        "</body></html>"
    )
    doc = parse_html(page, "kettles.html", SIG)

    chunks = Chunker(200, 30).chunk(doc)

    assert doc.title == "9. Kettles: boiling water"
    assert [c.heading_path for c in chunks] == ["", "9.1. Overview"]


@pytest.mark.parametrize(
    ("title_tag", "h1", "title"),
    [
        # The first heading numbers the first section and <title> names the page (SQLite's documentation).
        ("Kettle Descaling Guide", "1. Overview", "Kettle Descaling Guide"),
        ("Kettle Descaling Guide", "2.1 Before you start", "Kettle Descaling Guide"),
        # A numbered chapter that <title> repeats is the page's name (DocBook, Sphinx's tutorial chapters).
        ("4. Descaling — Kettle 2.1 documentation", "4. Descaling", "4. Descaling"),
        ("4. Descaling", "4. Descaling", "4. Descaling"),
        # An unnumbered first heading is the name, whatever <title> adds.
        ("Descaling | Kettle Help Center", "Descaling", "Descaling"),
    ],
)
def test_a_first_heading_that_numbers_a_section_gives_way_to_the_title_tag(title_tag: str, h1: str, title: str) -> None:
    page = (
        f"<html><head><title>{title_tag}</title></head><body><h1>{h1}</h1>"
        "<p>Descale the kettle every month with a cup of vinegar.</p></body></html>"
    )

    doc = parse_html(page, "descaling.html", SIG)

    assert doc.title == title
    assert Chunker(200, 30).chunk(doc)[0].title == title


# --- a list item larger than a chunk: its later pieces name the item ----------------------------------------

LONG_OPTION = (
    "- **`--keep-warm=<yes|no>` [default: no]**: Controls whether the kettle keeps the water warm after it boils.\n\n"
    + "\n\n".join(
        f"  When warming round {i} ends, the kettle measures the water again and heats it for another {i} minutes."
        for i in range(1, 9)
    )
)
NEXT_OPTION = "- **`--lid=<open|closed>`**: Whether the lid opens when the water boils."


def test_a_long_option_description_names_its_option_in_every_chunk_it_continues_in() -> None:
    doc = manual(f"## Options\n\n{LONG_OPTION}\n{NEXT_OPTION}\n")

    chunks = Chunker(70, 10).chunk(doc)
    holders = [c for c in chunks if "When warming round" in c.quotable]

    assert len(holders) > 1
    assert holders[0].quotable.startswith("- **`--keep-warm=<yes|no>` [default: no]**")
    for chunk in holders[1:]:
        # Headed by the section's path and the option, so an answer quoting "When warming round 5 ..." names it.
        assert chunk.quotable.splitlines()[0] == "#### Options > `--keep-warm=<yes|no>` [default: no]"
        assert "--keep-warm" in chunk.embed_text
    rounds = [line.strip() for c in holders for line in c.quotable.splitlines() if "When warming round" in line]
    assert rounds == [line.strip() for line in LONG_OPTION.splitlines() if "When warming round" in line]


def test_what_follows_a_long_item_in_the_same_chunk_is_under_the_section_again() -> None:
    doc = manual(f"## Options\n\n{LONG_OPTION}\n{NEXT_OPTION}\n")

    last = next(c for c in Chunker(70, 10).chunk(doc) if "`--lid=" in c.quotable)
    lines = [line for line in last.quotable.splitlines() if line]

    assert lines[0] == "#### Options > `--keep-warm=<yes|no>` [default: no]"  # the chunk opened inside the item
    assert lines[lines.index(NEXT_OPTION) - 1] == "#### Options"


def test_items_that_fit_and_prose_get_no_extra_heading() -> None:
    doc = manual(f"## Valves\n\n{PROCEDURE}\n\n{OPTIONS}\n\n" + " ".join(sentences(30)) + "\n")

    assert not any("####" in c.quotable for c in Chunker(60, 10).chunk(doc))


def test_a_long_numbered_step_continues_under_its_number_and_opening_words() -> None:
    step = "3. Fill the kettle to the line marked MAX before you switch it on.\n\n" + "\n\n".join(
        f"   Check seal {i}: it should sit flat in its groove and not move when the lid is pressed." for i in range(8)
    )
    doc = manual(f"## Filling\n\n{step}\n")

    later = [c for c in Chunker(60, 10).chunk(doc) if "Check seal" in c.quotable][1:]

    assert later
    for chunk in later:
        assert chunk.quotable.startswith(
            "#### Filling > 3. Fill the kettle to the line marked MAX before you switch it on."
        )


@pytest.mark.parametrize(
    ("head", "term"),
    [
        ("- **`--depth <n>`**: Create a shallow clone.", "`--depth <n>`"),
        ("- **`f(a, **kw)`**: Call f.", "`f(a, **kw)`"),
        ("- **`clone(**kw)` or `copy()`**: A new policy.", "`clone(**kw)` or `copy()`"),
        ("- **``a `b` c``**: Nested ticks.", "``a `b` c``"),
        ("- **Retention:** How long archives are kept.", "Retention"),
        ("* `borg prune` removes archives.", "`borg prune`"),
        ("2. Create the repository:", "2. Create the repository"),
        ("- " + "word " * 40, "word " * 15 + "word …"),
    ],
)
def test_an_items_term_is_its_bold_or_code_lead_else_its_opening_words(head: str, term: str) -> None:
    from deflect.ingest.chunking import item_term

    assert item_term(head) == term

"""ExtractiveGenerator: answers are intact passages (section, procedure, code with its intro, option, table) of the
sources they cite, quoted verbatim under their heading, plus at most one more passage that adds to the answer."""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from deflect.answer.extractive import ExtractiveGenerator
from deflect.answer.units import ends_with_colon
from deflect.domain.models import Answer, SourceHit

from .builders import LEDGER_INSTEAD, LEDGER_SAYS, chunk, source, source_of

_MARKER = re.compile(r"(?:\s*\[\d+\])+(?=\s|$)")
_MD = MarkdownIt("commonmark").enable("table")

RESTORE = """Restoring a ledger overwrites the local copy, so check the backup date first.

To restore a ledger from a backup:

1. Stop the tally daemon with `tally stop`.
2. Run `tally restore backup:/ledgers/main` and wait for the summary line.
3. Start the daemon again with `tally start`."""

VERIFY = """Each ledger entry carries a signature. To check every entry, run this from the ledger folder:

```console
$ tally verify --all
checked 42 entries, 0 bad
```

A non-zero exit status means at least one entry failed its signature check."""

# A reference section too long to quote whole: each option must stand on its own.
_FILLER = " ".join(f"Detail {i} of how remotes are matched is described in the remotes chapter." for i in range(12))
SYNC_OPTIONS = f"""`tally sync` copies ledgers to a remote. {_FILLER}

These options change what it copies:

- **--since** *AGE*: Copy only entries newer than AGE, for example `7d`.
  Older entries stay where they are.
- **--dry-run**: Show what would be copied to the remote without copying anything.
- **--retries** *N*: Try a failed transfer N times before giving up."""

LIMITS = """Every plan has its own sync limits:

| Plan | Syncs per day | Remotes |
|---|---|---|
| Solo | 10 | 1 |
| Team | 100 | 5 |

Limits reset at midnight UTC."""

PRICING = """Solo costs 4 euros a month and Team costs 9 euros per member a month.

Annual billing saves 20 percent on either plan."""

GARDEN = "Tomatoes need six hours of sun a day. Water tomato plants at the base, never on the leaves."


def generator(max_chars: int = 1000) -> ExtractiveGenerator:
    return ExtractiveGenerator(max_chars=max_chars)


def pieces(answer: Answer) -> list[tuple[str, str, list[int]]]:
    """(heading or "", quoted text, citation numbers) of each passage, in order; nothing may stand outside one."""
    out = []
    pos = 0
    for m in _MARKER.finditer(answer.text):
        body = answer.text[pos : m.start()].strip()
        heading = ""
        head = re.match(r"\*\*(.+?)\*\*\n\n", body)
        if head and body[head.end() :]:
            heading, body = head.group(1), body[head.end() :]
        out.append((heading, body, [int(n) for n in re.findall(r"\d+", m.group())]))
        pos = m.end()
    assert answer.text[pos:].strip() == "", "text after the last citation marker"
    return out


def quotable(hit: SourceHit) -> str:
    return "\n".join(c.chunk.quotable for c in hit.chunks)


CASES = [
    ("How do I restore a ledger from a backup?", [source("doc:restore", RESTORE, headings=("Restoring ledgers",))]),
    ("How do I verify the signatures of ledger entries?", [source("doc:verify", VERIFY, headings=("Verifying",))]),
    ("What does the --dry-run option do?", [source("doc:sync", SYNC_OPTIONS, headings=("tally sync",))]),
    ("How many syncs per day does the Team plan allow?", [source("doc:limits", LIMITS, headings=("Limits",))]),
    (
        "How many syncs per day on Team, and how much does Team cost?",
        [source("doc:limits", LIMITS), source("doc:pricing", PRICING, score=0.95)],
    ),
]


@pytest.mark.parametrize(("question", "sources"), CASES)
def test_every_passage_is_verbatim_text_of_the_source_it_cites(question: str, sources: list[SourceHit]) -> None:
    answer = generator().generate(question, sources)

    quoted = pieces(answer)
    assert quoted, "expected a non-empty answer"
    by_n = {c.n: c.source_id for c in answer.citations}
    texts = {s.source_id: quotable(s) for s in sources}
    for _, text, numbers in quoted:
        (n,) = numbers
        assert text in texts[by_n[n]], f"{text!r} is not in source {by_n[n]}"
    assert [text for _, text, _ in quoted] == answer.sentences


@pytest.mark.parametrize(("question", "sources"), CASES)
def test_citations_are_numbered_in_order_of_first_use(question: str, sources: list[SourceHit]) -> None:
    answer = generator().generate(question, sources)

    used = list(dict.fromkeys(n for _, _, numbers in pieces(answer) for n in numbers))
    assert used == list(range(1, len(used) + 1))
    assert [c.n for c in answer.citations] == used
    assert len({c.source_id for c in answer.citations}) == len(answer.citations)


@pytest.mark.parametrize(("question", "sources"), CASES)
def test_an_answer_has_at_most_two_passages_and_none_ends_on_a_colon(question: str, sources: list[SourceHit]) -> None:
    answer = generator().generate(question, sources)

    assert 1 <= len(answer.sentences) <= 2
    assert not any(ends_with_colon(p) for p in answer.sentences)


def test_a_passage_is_shown_under_its_page_title_and_heading() -> None:
    answer = generator().generate(CASES[0][0], CASES[0][1])

    assert answer.text.startswith("**Title of doc:restore > Restoring ledgers**\n\n")


def test_a_manual_section_names_the_command_it_describes() -> None:
    # a command reference: every page has a "Description"; the answer must say which command it describes
    description = "This command renames a ledger in the store. Its entries keep their numbers."
    hit = source("doc:tally-rename", description, headings=("Description",))
    hit = hit.model_copy(update={"title": "tally rename"})

    answer = generator().generate("How do I rename a ledger?", [hit])

    assert answer.text.startswith("**tally rename > Description**\n\n")


def test_a_how_to_question_answered_by_a_description_also_gets_the_pages_example() -> None:
    description = "This command renames a ledger in the store. Its entries keep their numbers."
    synopsis = "```\ntally [options] rename LEDGER NEWNAME\n```"
    examples = "```\n$ tally rename main archive-2024\n$ tally list\narchive-2024\n```"
    hit = source("doc:tally-rename", description, synopsis, examples, headings=("Description", "Synopsis", "Examples"))

    answer = generator().generate("How do I rename a ledger?", [hit])

    assert len(answer.sentences) == 2
    assert "renames a ledger" in answer.sentences[0]
    assert "$ tally rename main archive-2024" in answer.sentences[1]
    assert "**Title of doc:tally-rename > Examples**" in answer.text


RENAME = "This command renames a ledger in the store. Its entries keep their numbers."


def rename_page() -> SourceHit:
    """A command's reference page: its description, then its example."""
    examples = "```\n$ tally rename main archive-2024\n```"
    return source("doc:tally-rename", RENAME, examples, headings=("Description", "Examples"))


@pytest.mark.parametrize(
    "question",
    ["How can the backup server rename a ledger?", "How should a nightly job rename a ledger?"],
)
def test_a_how_to_question_about_someone_else_doing_it_also_gets_the_example(question: str) -> None:
    # the subject of a how-to is not always the asker: a server, a script, a colleague
    answer = generator().generate(question, [rename_page()])

    assert "$ tally rename main archive-2024" in answer.text


@pytest.mark.parametrize(
    "question",
    ["Does renaming a ledger keep its entry numbers?", "How does renaming a ledger keep its entry numbers?"],
)
def test_a_question_that_is_not_a_how_to_gets_no_example(question: str) -> None:
    answer = generator().generate(question, [rename_page()])

    assert answer.sentences == [RENAME]


def test_a_procedure_comes_whole_and_in_order_with_its_intro() -> None:
    hit = source("doc:restore", RESTORE, headings=("Restoring ledgers",))

    answer = generator().generate("What do I run after stopping the daemon to restore a ledger?", [hit])

    procedure = RESTORE[RESTORE.index("To restore") :]
    assert any(procedure in passage for passage in answer.sentences)
    tokens = _MD.parse(answer.text)
    assert [t.info for t in tokens if t.type == "ordered_list_open"] == [""]
    assert sum(t.type == "list_item_open" for t in tokens) == 3


def test_a_code_block_comes_intact_with_the_sentence_that_introduces_it() -> None:
    hit = source("doc:verify", VERIFY, headings=("Verifying",))

    answer = generator().generate("How do I check every ledger entry?", [hit])

    (fence,) = [t for t in _MD.parse(answer.text) if t.type == "fence"]
    assert fence.info == "console"
    assert fence.content == "$ tally verify --all\nchecked 42 entries, 0 bad\n"
    intro = "To check every entry, run this from the ledger folder:"
    assert answer.text.index(intro) < answer.text.index("```console")


def test_a_description_is_quoted_rather_than_the_name_line_that_only_names_the_command() -> None:
    # a man page: the NAME fragment shares every question word and ranks first, the description answers
    hit = source(
        "doc:tally-verify",
        "tally-verify - check a ledger",
        "`tally verify` reads every entry of the ledger and reports those whose checksum does not match.",
        headings=("NAME", "DESCRIPTION"),
    )

    answer = generator().generate("How do I check a ledger?", [hit])

    first = answer.sentences[0]
    assert "reads every entry of the ledger" in first
    assert "tally-verify - check a ledger" not in first


def test_a_question_naming_an_option_gets_that_option_with_its_description_only() -> None:
    hit = source("doc:sync", SYNC_OPTIONS, headings=("tally sync",))

    answer = generator(max_chars=600).generate("What does --dry-run do?", [hit])

    assert answer.sentences == ["- **--dry-run**: Show what would be copied to the remote without copying anything."]
    assert "--since" not in answer.text and "--retries" not in answer.text


def test_an_option_spanning_lines_is_quoted_with_all_of_its_description() -> None:
    hit = source("doc:sync", SYNC_OPTIONS, headings=("tally sync",))

    answer = generator(max_chars=600).generate("How do I copy only entries newer than a week with --since?", [hit])

    since = (
        "- **--since** *AGE*: Copy only entries newer than AGE, for example `7d`.\n  Older entries stay where they are."
    )
    assert since in answer.sentences[0]


def test_a_table_comes_whole_with_its_header_row() -> None:
    hit = source("doc:limits", LIMITS, headings=("Limits",))

    answer = generator().generate("How many syncs per day does the Team plan allow?", [hit])

    assert "| Plan | Syncs per day | Remotes |\n|---|---|---|\n| Solo | 10 | 1 |\n| Team | 100 | 5 |" in answer.text
    tokens = _MD.parse(answer.text)
    assert any(t.type == "table_open" for t in tokens)
    header = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "th_open"]
    assert header == ["Plan", "Syncs per day", "Remotes"]


def test_a_long_passage_is_trimmed_at_a_sentence_end_within_the_budget() -> None:
    prose = " ".join(f"Remote {i} is synced after remote {i - 1} has finished its transfer." for i in range(1, 40))
    hit = source("doc:order", prose, headings=("Sync order",))

    answer = generator(max_chars=300).generate("In which order are remotes synced?", [hit])

    (passage,) = answer.sentences
    assert len(passage) <= 300 and prose.startswith(passage) and passage.endswith("transfer.")


def test_an_intro_whose_command_the_chunk_cut_off_is_never_the_end_of_an_answer() -> None:
    cut = "Full syncs copy every entry again.\n\nTo force a full sync, run:\n\n```console\n$ tally sync --full"
    hit = source("doc:full", cut, headings=("Full sync",))

    answer = generator().generate("How do I force a full sync?", [hit])

    assert answer.sentences == ["Full syncs copy every entry again."]


def test_an_off_topic_second_source_is_not_mixed_in_even_when_retrieval_ranks_it_close() -> None:
    sources = [source("doc:limits", LIMITS), source("doc:garden", GARDEN, score=0.99)]

    answer = generator().generate("How many syncs per day does the Team plan allow?", sources)

    assert [c.source_id for c in answer.citations] == ["doc:limits"]
    assert "Tomatoes" not in answer.text


def test_a_second_source_answering_the_other_half_of_the_question_is_cited() -> None:
    sources = [source("doc:limits", LIMITS), source("doc:pricing", PRICING, score=0.95)]

    answer = generator().generate("How many syncs per day on Team, and how much does Team cost?", sources)

    assert [c.source_id for c in answer.citations] == ["doc:limits", "doc:pricing"]
    assert "Team costs 9 euros per member a month" in answer.text


@pytest.mark.parametrize("second_score", [0.89, 0.5])
def test_a_second_source_scored_far_below_the_first_is_never_cited(second_score: float) -> None:
    sources = [source("doc:limits", LIMITS), source("doc:pricing", PRICING, score=second_score)]

    answer = generator().generate("How many syncs per day on Team, and how much does Team cost?", sources)

    assert [c.source_id for c in answer.citations] == ["doc:limits"]


def test_a_third_source_is_never_cited_with_the_default_two_sources() -> None:
    question = "How many syncs per day on Team, and how much does Team cost?"
    sources = [source("doc:a", LIMITS), source("doc:b", GARDEN, score=0.99), source("doc:c", PRICING, score=0.99)]

    answer = generator().generate(question, sources)

    assert "doc:c" not in {c.source_id for c in answer.citations}


def test_a_second_passage_of_the_same_source_is_added_when_it_answers_another_part() -> None:
    hit = source("doc:kb", LIMITS, PRICING, headings=("Limits", "Pricing"))

    answer = generator().generate("How many syncs per day on Team, and how much does Team cost?", [hit])

    assert len(answer.sentences) == 2
    assert [c.source_id for c in answer.citations] == ["doc:kb"]
    assert answer.text.count("[1]") == 2


def test_an_escalation_quotes_the_resolution_never_the_customer_question() -> None:
    question = "Our webhook signature check fails on every single delivery."
    head = f"Webhook signature fails\n\n{question}"
    text = (
        head + "\n\nResolution: The HMAC was computed over re-serialised JSON. "
        "Compute the webhook signature HMAC over the raw request body instead."
    )
    esc = chunk("esc:ESC-1", 0, text, quote_from=text.index("The HMAC"), kind="escalation", heading="Resolution")

    answer = generator().generate(question, [source_of(esc)])

    assert answer.sentences == [esc.quotable]
    assert "check fails" not in answer.text
    assert "Resolution" not in answer.text  # escalations have no section heading worth showing


def test_a_citation_carries_the_cited_source_and_a_snippet_of_the_passage() -> None:
    hit = source("doc:limits", LIMITS)

    answer = generator().generate("How many syncs per day does the Team plan allow?", [hit])

    (citation,) = answer.citations
    assert (citation.source_id, citation.title, citation.url) == (hit.source_id, hit.title, hit.url)
    assert answer.sentences[0].startswith(citation.snippet.rstrip("…"))


def test_text_repeated_by_overlapping_chunks_appears_once() -> None:
    shared = "Syncs resume where they stopped after a network failure."
    hit = source("doc:resume", f"Syncs run hourly. {shared}", f"{shared} Partial syncs are logged.")

    answer = generator().generate("Do syncs resume after a network failure?", [hit])

    assert answer.text.count(shared) == 1


def test_no_sources_give_an_empty_answer() -> None:
    answer = generator().generate("How do I restore a ledger?", [])

    assert (answer.text, answer.citations, answer.sentences) == ("", [], [])


def test_an_intro_and_its_code_packed_into_neighbouring_chunks_are_quoted_together() -> None:
    intro, code = VERIFY.split("\n\n", 1)[0], VERIFY.split("\n\n", 2)[1]
    # Retrieval ranked the code's chunk (#4) above the intro's (#3).
    hit = source_of(
        chunk("doc:verify", 4, code, heading="Verifying"), chunk("doc:verify", 3, intro, heading="Verifying")
    )

    answer = generator().generate("How do I check every ledger entry?", [hit])

    assert f"{intro}\n\n{code}" in answer.sentences[0]


def test_neighbouring_chunks_of_different_sections_are_not_joined() -> None:
    hit = source("doc:kb", LIMITS, PRICING, headings=("Limits", "Pricing"))

    answer = generator().generate("How many syncs per day does the Team plan allow?", [hit])

    assert all(not (LIMITS in p and PRICING in p) for p in answer.sentences)


def test_no_quotable_passage_in_the_top_source_gives_an_empty_answer_not_another_source() -> None:
    cut = "To force a full sync, run:\n\n```console\n$ tally sync --full"  # the chunk ends inside the code
    sources = [source("doc:full", cut), source("doc:limits", LIMITS, score=0.99)]

    answer = generator().generate("How do I force a full sync?", sources)

    assert (answer.text, answer.citations) == ("", [])


def test_an_entry_of_a_numbered_list_of_titled_entries_too_long_to_quote_whole_is_quoted_on_its_own() -> None:
    # A limits page numbers its sections as one long ordered list (`14. **Maximum ledger size**` and paragraphs
    # indented under it). Kept whole like a procedure, it was over budget and nothing of the page was quoted.
    filler = " ".join(f"Rule {i} of the importer is checked when a ledger is opened." for i in range(9))
    entries = "\n\n".join(
        f"{n}. **{title}**\n\n    {body} {filler}"
        for n, title, body in [
            (12, "Maximum number of accounts", "A ledger may hold up to 4,000 accounts."),
            (13, "Maximum entry length", "One entry may carry at most 64 kB of notes."),
            (14, "Maximum ledger size", "The largest ledger file tally can open is 2 TB."),
        ]
    )

    answer = generator().generate("What is the maximum size of a ledger file?", [source("doc:limits", entries)])

    assert "14. **Maximum ledger size**" in answer.text and "2 TB" in answer.text
    assert "12. **Maximum number of accounts**" not in answer.text


def test_a_second_passage_of_the_same_section_is_not_headed_twice() -> None:
    hit = source_of(
        chunk("doc:kb", 1, LIMITS, heading="Plans"),
        chunk("doc:kb", 5, PRICING, heading="Plans"),  # not a neighbour: quoted as a passage of its own
    )

    answer = generator().generate("How many syncs per day on Team, and how much does Team cost?", [hit])

    assert len(answer.sentences) == 2
    assert answer.text.count("**Title of doc:kb > Plans**") == 1


def test_under_an_faq_heading_the_paragraph_that_answers_is_quoted_not_the_shortest_remark() -> None:
    # the heading repeats the question, so every paragraph of the section covers it equally through the heading;
    # the section is longer than the budget, so one paragraph is quoted
    faq = (
        "Rebuilding the index after a crash can take a while on large ledgers.\n\n"
        "To free the disk space the ledger cache takes, run `tally cache prune`; the cache is rebuilt on demand.\n\n"
        "A better design is planned, see #474."
    )
    hit = source("doc:faq", faq, headings=("The ledger cache takes too much disk space, what can I do?",))

    answer = generator(max_chars=120).generate("The ledger cache takes too much disk space, what can I do?", [hit])

    assert answer.sentences[0].startswith("To free the disk space the ledger cache takes")


def _error_code_sources(article_score: float) -> list[SourceHit]:
    escalation = source(
        "esc:ESC-7",
        "Their 300 MB export failed with E42; splitting the ledger into two files let both export.",
        kind="escalation",
        score=1.0,
    )
    article = source(
        "doc:e42",
        "E42 means a ledger export is larger than 250 MB. Split the ledger or export it in parts.",
        score=article_score,
    )
    return [escalation, article.model_copy(update={"title": "E42: Export too large"})]


def test_an_article_the_question_names_by_its_title_leads_and_the_escalation_follows() -> None:
    answer = generator().generate("E42: Export too large", _error_code_sources(article_score=0.95))

    assert [c.source_id for c in answer.citations] == ["doc:e42", "esc:ESC-7"]
    assert "larger than 250 MB" in answer.sentences[0]
    assert "splitting the ledger" in answer.sentences[1]


def test_an_escalation_ranked_first_keeps_the_lead_when_the_article_is_not_named() -> None:
    answer = generator().generate("my big export keeps failing", _error_code_sources(article_score=0.95))

    assert answer.citations[0].source_id == "esc:ESC-7"


def test_an_article_named_but_far_less_relevant_does_not_lead() -> None:
    answer = generator().generate("E42: Export too large", _error_code_sources(article_score=0.5))

    assert [c.source_id for c in answer.citations] == ["esc:ESC-7"]


def test_a_heading_that_already_names_its_page_is_not_prefixed_with_the_title() -> None:
    hit = source(
        "doc:e42", "E42 means the export is larger than 250 MB.", headings=("Why you see E42: Export too large",)
    )
    hit = hit.model_copy(update={"title": "E42: Export too large"})

    answer = generator().generate("What does E42 mean?", [hit])

    assert answer.text.startswith("**Why you see E42: Export too large**\n\n")


def test_a_later_paragraph_of_a_long_option_is_quoted_under_the_options_name() -> None:
    # Built by the real chunker: an option whose description is longer than a chunk; the question matches one of
    # its later paragraphs, which on its own ("When set to yes, ...") does not say which option it describes.
    from deflect.ingest.chunking import Chunker
    from deflect.ingest.sources import parse_markdown

    rounds = "\n\n".join(f"  Round {i} of warming measures the water and heats it again." for i in range(1, 8))
    body = (
        "# Kettle manual\n\n## Options\n\n"
        "- **`--keep-warm=<yes|no>` [default: no]**: Controls warming after the water boils.\n\n"
        f"{rounds}\n\n  When set to `yes`, the kettle shows the water temperature on its display while warming.\n"
    )
    chunks = Chunker(60, 10).chunk(parse_markdown(body, "manual/kettle.md", "sig"))
    display = next(c for c in chunks if "temperature on its display" in c.quotable)
    assert "--keep-warm" not in next(line for line in display.quotable.splitlines() if "display" in line)

    answer = generator().generate("How do I see the water temperature on the display?", [source_of(display)])

    assert "temperature on its display" in answer.text
    assert answer.text.startswith("**Kettle manual > Options > `--keep-warm=<yes|no>` [default: no]**")


# A tool's chapter of a manual: it says once, before its first section, how to start the tool, and a later section
# answers the question without repeating it (valgrind's chapters open this way).
TRACER_OPENING = "To use this tool, you must specify `--tool=tracer` on the Tally command line."
TRACER_COUNTS = (
    "Tracer counts how often each function of your program is called, and how often each call site calls it. "
    "The counts include calls made from shared libraries, so a busy allocator shows up even when your own code "
    "calls it only through a wrapper."
)


def tracer_chapter(*sections: tuple[str, str], opening: str = TRACER_OPENING, retrieved: bool = False) -> SourceHit:
    """The chapter's retrieved sections (heading, text), best first, and its opening: fetched from the index, or
    among the retrieved chunks when `retrieved`."""
    page = chunk("doc:tr-manual", 0, opening)
    hit = source("doc:tr-manual", *(t for _, t in sections), headings=tuple(h for h, _ in sections))
    hit = hit.model_copy(update={"title": "7. Tracer: a call profiler"})
    chunks = [
        c.model_copy(update={"chunk": c.chunk.model_copy(update={"chunk_id": f"doc:tr-manual#{i + 3}"})})
        for i, c in enumerate(hit.chunks)
    ]
    if retrieved:
        return hit.model_copy(
            update={"chunks": [*chunks, hit.chunks[0].model_copy(update={"chunk": page, "score": 0.5})]}
        )
    return hit.model_copy(update={"chunks": chunks, "opening": page})


COUNTS_SECTION = ("7.2. Using Tracer > 7.2.4. Call counts", TRACER_COUNTS)


def test_a_how_to_answered_from_a_later_section_of_a_tool_chapter_also_quotes_how_to_start_the_tool() -> None:
    answer = generator().generate("How do I count how often my functions are called?", [tracer_chapter(COUNTS_SECTION)])

    assert answer.sentences == [TRACER_COUNTS, TRACER_OPENING]
    assert "**7. Tracer: a call profiler**\n\n" + TRACER_OPENING + " [1]" in answer.text
    assert [c.source_id for c in answer.citations] == ["doc:tr-manual"]


def test_the_opening_counts_when_retrieval_returned_it_but_it_did_not_win() -> None:
    answer = generator().generate(
        "How do I count how often my functions are called?", [tracer_chapter(COUNTS_SECTION, retrieved=True)]
    )

    assert answer.sentences == [TRACER_COUNTS, TRACER_OPENING]


@pytest.mark.parametrize(
    "question", ["Does Tracer count calls made from shared libraries?", "How does Tracer count function calls?"]
)
def test_a_question_that_is_not_a_how_to_gets_no_opening(question: str) -> None:
    answer = generator().generate(question, [tracer_chapter(COUNTS_SECTION)])

    assert TRACER_OPENING not in answer.text


def test_no_opening_when_the_answer_already_shows_its_command() -> None:
    running = (
        "7.2. Using Tracer > 7.2.1. Running Tracer",
        "To count calls, run `tally --tool=tracer ./prog` and wait.",
    )

    answer = generator().generate("How do I count calls with Tracer?", [tracer_chapter(running)])

    assert TRACER_OPENING not in answer.text


def test_a_second_passage_naming_an_option_of_its_own_is_kept_over_the_opening() -> None:
    depth = (
        "7.3. Tracer Command-line Options",
        "Shared libraries are counted too; pass `--skip-shared=yes` to leave out calls from a shared library.",
    )

    answer = generator().generate(
        "How do I count how often my functions are called, leaving out a shared library?",
        [tracer_chapter(COUNTS_SECTION, depth)],
    )

    assert len(answer.sentences) == 2
    assert "`--skip-shared=yes`" in answer.sentences[1]
    assert TRACER_OPENING not in answer.text


@pytest.mark.parametrize(
    "opening",
    [
        "This chapter describes Tracer, a profiler that counts function calls.",  # says nothing to run
        "```\ntally --tool=tracer [options] PROGRAM\n```",  # a bare synopsis: no sentence introduces it
    ],
)
def test_an_opening_that_does_not_say_how_to_run_anything_is_not_quoted(opening: str) -> None:
    answer = generator().generate(
        "How do I count how often my functions are called?", [tracer_chapter(COUNTS_SECTION, opening=opening)]
    )

    assert answer.sentences == [TRACER_COUNTS]


def test_an_escalations_first_chunk_is_not_an_opening() -> None:
    # escalations have no headings, so their first chunk would look like a page's opening
    case = chunk(
        "esc:ESC-9",
        0,
        "The customer's nightly job fails. Running `tally verify --all` first fixed it.",
        kind="escalation",
    )
    later = chunk("esc:ESC-9", 1, TRACER_COUNTS, kind="escalation")
    answer = generator().generate("How do I count how often my functions are called?", [source_of(later, case)])

    assert "tally verify" not in answer.text


LEDGER_HEADING = "9.2. Using Ledger > 9.2.8. Counting every ledger page"


def ledger_page(retrieved: dict[int, str], context: dict[int, str]) -> SourceHit:
    """Chunks of one section of a page: those retrieval returned, and neighbours read for context."""
    made = {
        n: chunk("doc:ledger", n, text, heading=LEDGER_HEADING).model_copy(update={"source_chunks": 9})
        for n, text in (retrieved | context).items()
    }
    hit = source_of(*(made[n] for n in retrieved))
    return hit.model_copy(update={"context": [made[n] for n in context]})


def test_a_passage_cut_by_the_chunk_boundary_is_quoted_whole_from_its_start_in_the_chunk_read_before() -> None:
    page = ledger_page({4: LEDGER_INSTEAD}, {3: LEDGER_SAYS})

    answer = generator().generate("How do I count every ledger page?", [page])

    first = answer.sentences[0]
    assert not first.startswith("instead"), first
    assert LEDGER_SAYS.split(". ", 1)[1] + "\n\ninstead of the usual:" in first, "the sentence with both its blocks"
    assert all(p in LEDGER_SAYS + "\n\n" + LEDGER_INSTEAD for p in answer.sentences), "verbatim"


def test_without_the_chunk_before_an_answer_never_starts_with_the_fragment_it_opens_with() -> None:
    answer = generator().generate("How do I count every ledger page?", [ledger_page({4: LEDGER_INSTEAD}, {})])

    assert answer.sentences and all(not p.startswith("instead") for p in answer.sentences)
    assert "instead of the usual:" not in answer.text
    assert answer.sentences[0].startswith("The entries listed"), "the next whole unit"


def test_a_neighbour_read_for_context_is_never_quoted_on_its_own() -> None:
    # the neighbour's own paragraph says more of the question's words than anything retrieved: still not quoted
    neighbour = "Count every ledger page with the page counter, which counts ledger pages.\n\n" + LEDGER_SAYS
    page = ledger_page({4: LEDGER_INSTEAD}, {3: neighbour})

    answer = generator().generate("How do I count every ledger page?", [page])

    assert answer.sentences and "page counter" not in answer.text


def test_an_intro_ending_a_chunk_is_quoted_with_the_code_the_next_chunk_holds() -> None:
    intro = "Ledgers are verified every night. To verify every ledger entry yourself, run:"
    code = "```console\n$ tally verify --all\nchecked 42 entries, 0 bad\n```\n\nThe exit status says if any failed."

    without = generator().generate("How do I verify every ledger entry?", [ledger_page({5: intro}, {})])
    answer = generator().generate("How do I verify every ledger entry?", [ledger_page({5: intro}, {6: code})])

    assert "run:" not in without.text, "without the next chunk the intro is not quoted dangling"
    assert answer.sentences[0] == intro + "\n\n" + code.split("\n\nThe exit")[0]


def test_a_passage_sharing_only_the_question_frame_word_is_never_added() -> None:
    proxy = (
        "Tally can reach the sync service through a proxy server: pass `--proxy host:port` on the command line, or "
        "set `proxy` in the configuration file."
    )
    upgrade = "Before you upgrade Tally, make sure that every device you use has finished its last sync."
    hit = source("doc:guide", proxy, upgrade, headings=("Using a proxy server", "Upgrading"))

    answer = generator().generate("How do I make Tally use a proxy server?", [hit])

    assert "--proxy host:port" in answer.text
    assert "make sure" not in answer.text


MERGING = (
    "Merging folds the entries of one ledger into another. Entries keep their signatures, and an entry present in "
    "both ledgers is kept once."
)
MERGE_EXAMPLE = "To merge the archive ledger into the main one:\n\n```\n$ tally merge main archive\n```"


def merging_page(*following: tuple[str, str], prose: str = MERGING) -> SourceHit:
    """A manual page whose section on merging was retrieved; `following` are the chunks read after it."""
    hit = source_of(chunk("doc:tally-guide", 4, prose, heading="3. Merging ledgers"))
    later = [chunk("doc:tally-guide", 5 + i, text, heading=heading) for i, (heading, text) in enumerate(following)]
    return hit.model_copy(update={"following": later})


def test_a_how_to_answered_by_prose_gets_the_example_further_into_the_same_section() -> None:
    page = merging_page(
        ("3. Merging ledgers", "Merging takes a lock on both ledgers until it is done."),
        ("3. Merging ledgers > 3.1. Merge examples", MERGE_EXAMPLE),
    )

    answer = generator().generate("How do I merge two ledgers?", [page])

    assert answer.sentences == [MERGING, MERGE_EXAMPLE]
    assert answer.text.endswith("```\n$ tally merge main archive\n```\n\n[1]"), "the code block comes whole, cited"


def test_an_example_of_another_section_is_not_quoted() -> None:
    page = merging_page(("4. Deleting ledgers", "To delete the archive ledger:\n\n```\n$ tally rm merge archive\n```"))

    answer = generator().generate("How do I merge two ledgers?", [page])

    assert answer.sentences == [MERGING]


@pytest.mark.parametrize(
    "question", ["Does merging keep an entry present in both ledgers?", "How does merging treat duplicate entries?"]
)
def test_a_question_that_is_not_a_how_to_gets_no_following_example(question: str) -> None:
    answer = generator().generate(question, [merging_page(("3. Merging ledgers", MERGE_EXAMPLE))])

    assert MERGE_EXAMPLE not in answer.text


def test_no_following_example_when_the_answer_already_shows_code() -> None:
    prose = MERGING + " Run `tally merge --check` first to see what would change."

    answer = generator().generate(
        "How do I merge two ledgers?", [merging_page(("3. Merging ledgers", MERGE_EXAMPLE), prose=prose)]
    )

    assert MERGE_EXAMPLE not in answer.text


def test_a_following_example_about_something_else_is_not_quoted() -> None:
    unrelated = "To print the store's version:\n\n```\n$ tally version\n```"

    answer = generator().generate("How do I merge two ledgers?", [merging_page(("3. Merging ledgers", unrelated))])

    assert answer.sentences == [MERGING]


def test_a_following_chunk_that_opens_mid_sentence_is_quoted_from_its_next_whole_unit_only() -> None:
    cut = "only when both are closed:\n\n```\n$ tally close main\n```\n\n" + MERGE_EXAMPLE

    answer = generator().generate("How do I merge two ledgers?", [merging_page(("3. Merging ledgers", cut))])

    assert answer.sentences == [MERGING, MERGE_EXAMPLE]


def test_a_code_block_inside_a_quote_ends_the_quote_before_the_citation_marker() -> None:
    # SQLite's pages set their examples in a quote; a marker on the closing fence's line would not close the fence
    # and would be shown as part of the code
    quoted = (
        "The following query counts the ledgers of each owner:\n\n"
        "> ```\n> SELECT owner, count(*)\n>   FROM ledger GROUP BY owner;\n> ```"
    )
    hit = source("doc:ledger-queries", quoted, headings=("Counting ledgers",))

    answer = generator().generate("How do I count the ledgers of each owner?", [hit])

    (fence,) = [t for t in _MD.parse(answer.text) if t.type == "fence"]
    assert fence.content == "SELECT owner, count(*)\n  FROM ledger GROUP BY owner;\n"
    assert answer.text.endswith("> ```\n\n[1]")


def test_the_following_example_is_found_after_a_passage_joined_with_the_neighbour_read_before_it() -> None:
    # the retrieved chunk opens mid-sentence; the chunk before it was read to complete it (SourceHit.context)
    before = chunk("doc:tally-guide", 3, "Merging folds the entries of one ledger", heading="3. Merging ledgers")
    rest = "into another, keeping their signatures. An entry present in both ledgers is kept once."
    hit = source_of(chunk("doc:tally-guide", 4, rest, heading="3. Merging ledgers"))
    example = chunk("doc:tally-guide", 5, MERGE_EXAMPLE, heading="3. Merging ledgers > 3.1. Merge examples")
    hit = hit.model_copy(update={"context": [before], "following": [example]})

    answer = generator().generate("How do I merge two ledgers?", [hit])

    assert answer.sentences[-1] == MERGE_EXAMPLE


RETRY_INTRO = (
    "If your remote is down, tally does not give up at once. This article explains what counts as a failed sync, "
    "how long tally keeps retrying it, and how to turn retries off."
)
RETRY_SCHEDULE = "A failed sync is retried up to 6 times over about 12 hours, with longer waits between later attempts."


def test_an_introduction_listing_the_pages_topics_loses_to_the_section_that_answers() -> None:
    # the introduction's table of contents names every word of the question; the section says the answer
    hit = source("doc:retries", RETRY_INTRO, RETRY_SCHEDULE, headings=("", "Sync retry schedule"))

    answer = generator().generate("How long does tally keep retrying a sync that fails?", [hit])

    assert answer.sentences[0] == RETRY_SCHEDULE


def test_an_introduction_that_answers_is_quoted_without_its_table_of_contents() -> None:
    intro = (
        "Every new tally workspace starts with a free 30-day trial, and no card is needed to start it. "
        "This article explains how to start the trial and what happens when it ends."
    )
    hit = source("doc:trial", intro)

    answer = generator().generate("Is there a free trial, and do I need a card?", [hit])

    assert answer.sentences == [
        "Every new tally workspace starts with a free 30-day trial, and no card is needed to start it."
    ]
    assert "This article explains" not in answer.text
    assert answer.citations[0].snippet.startswith("Every new tally workspace")


RESTORE_ABOUT = "Restoring a ledger from a backup replaces the local ledger with the backup copy, entry by entry."
RESTORE_STEPS = """To put a ledger backup back:

1. Stop the tally daemon.
2. Copy the backup over the ledger folder.
3. Start the tally daemon again."""


def _restore_sources() -> list[SourceHit]:
    return [source("doc:restore", RESTORE_ABOUT, RESTORE_STEPS, headings=("About restoring", "Restore steps"))]


def test_a_how_to_question_gets_the_procedure_rather_than_a_description_of_the_same_thing() -> None:
    answer = generator().generate("How do I restore a ledger from a backup?", _restore_sources())

    assert answer.sentences[0] == RESTORE_STEPS


def test_a_question_that_is_not_a_how_to_keeps_the_shorter_description() -> None:
    answer = generator().generate("What happens when a ledger is restored from a backup?", _restore_sources())

    assert answer.sentences[0] == RESTORE_ABOUT


LOCKED_ABOUT = (
    "If you see the banner `Ledger is locked: renewal past due`, the workspace's renewal failed and every ledger is "
    "read-only until it is paid."
)
LOCKED_WHAT_WORKS = "You can still open ledgers, read entries and export them; nothing can be added or changed."
LOCKED_CONTACT = """Only the workspace owner can pay the renewal. To get the ledgers unlocked:

1. Find the owner under **Settings > Members**.
2. Ask them to update the card in **Settings > Billing**."""


def locked_page(*retrieved: int, score: float = 0.8) -> SourceHit:
    """An article of short sections, one chunk each; the chunks not retrieved are its `nearby` ones."""
    texts = [LOCKED_ABOUT, LOCKED_WHAT_WORKS, LOCKED_CONTACT]
    headings = ["", "What still works", "Who can unlock the ledgers"]
    chunks = [chunk("doc:locked", n, t, heading=h) for n, (t, h) in enumerate(zip(texts, headings, strict=True))]
    hit = source_of(*(chunks[n] for n in retrieved), score=score)
    return hit.model_copy(update={"nearby": [c for n, c in enumerate(chunks) if n not in retrieved]})


def test_a_sibling_section_next_to_the_retrieved_ones_answers_what_they_do_not() -> None:
    # retrieval returned the introduction and the section after it; the steps are one section further on
    answer = generator().generate("The ledger is locked, who can unlock it and what do I do?", [locked_page(0, 1)])

    assert LOCKED_CONTACT in answer.sentences
    assert [c.source_id for c in answer.citations] == ["doc:locked"]


def test_a_retrieved_passage_leads_a_nearby_one_that_covers_the_question_as_well() -> None:
    # both sections say what still works in a locked ledger; the one retrieval returned comes first
    hit = locked_page(1)
    same = chunk("doc:locked", 2, "In a locked ledger you can still open and read entries.", heading="Read access")
    hit = hit.model_copy(update={"nearby": [same]})

    answer = generator().generate("What can I still do in a locked ledger?", [hit])

    assert answer.sentences[0] == LOCKED_WHAT_WORKS


def test_nearby_chunks_alone_make_no_answer() -> None:
    # the first source must have a retrieved chunk to quote; nearby ones are read next to retrieved ones only
    hit = locked_page(0).model_copy(update={"chunks": []})

    answer = generator().generate("Who can unlock the ledgers?", [hit])

    assert answer.text == ""


def test_a_nearby_chunk_of_a_retrieved_chunks_own_section_is_not_quoted() -> None:
    # more of a section retrieval already returned part of is not read as a candidate (it changed many manual answers)
    hit = locked_page(1)
    more = chunk("doc:locked", 2, "Only the workspace owner can unlock a ledger.", heading="What still works")
    hit = hit.model_copy(update={"nearby": [more]})

    answer = generator().generate("Who can unlock a ledger?", [hit])

    assert "Only the workspace owner" not in answer.text


LEDGER_SUBCOMMANDS = """- **purge**: Removes entries from the ledger. Entries older than the date given with \
`--before` are removed; without it every entry is.
- **list**: Prints the ledger's entries, newest first."""
LEDGER_EXAMPLES = """```
ledger list --limit 10
ledger purge --before 2024-01-01
```"""


def man_page(examples: str = LEDGER_EXAMPLES) -> SourceHit:
    """A command's man page: its subcommands as a definition list, and an Examples section of bare code."""
    return source("doc:ledger.1", LEDGER_SUBCOMMANDS, examples, headings=("ledger > Subcommands", "ledger > Examples"))


def test_a_subcommands_description_gets_the_pages_example_that_uses_the_one_asked_for() -> None:
    answer = generator().generate("How do I purge old entries from my ledger?", [man_page()])

    assert answer.sentences[0].startswith("- **purge**: Removes entries")
    assert answer.sentences[-1] == LEDGER_EXAMPLES
    (fence,) = [t for t in _MD.parse(answer.text) if t.type == "fence"]
    assert fence.content.endswith("ledger purge --before 2024-01-01\n"), "the code block comes whole"


def test_an_example_that_does_not_use_the_subcommand_asked_for_is_not_added() -> None:
    answer = generator().generate(
        "How do I purge old entries from my ledger?", [man_page("```\nledger list --limit 10\n```")]
    )

    assert answer.sentences[0].startswith("- **purge**: Removes entries")
    assert "```" not in answer.text


def test_a_question_that_is_not_a_how_to_gets_no_subcommand_example() -> None:
    answer = generator().generate("What does purging a ledger remove?", [man_page()])

    assert LEDGER_EXAMPLES not in answer.sentences


# A command page whose best chunk is its list of related pages: it names the question's words and answers nothing.
ARCHIVE_SEE_ALSO = """1. Archiving old ledgers.
2. Restoring an archived ledger from its archive.
3. The archive file format."""
ARCHIVE_DESCRIPTION = """`tally archive` moves closed ledgers out of the working folder. An archived ledger is kept \
read-only in `~/.tally/archive` until it is restored."""


def archive_page(see_also: str = "tally archive > See also") -> SourceHit:
    return source(
        "doc:archive", ARCHIVE_SEE_ALSO, ARCHIVE_DESCRIPTION, headings=(see_also, "tally archive > Description")
    )


def test_a_see_also_list_is_not_quoted_even_from_the_best_chunk() -> None:
    answer = generator().generate("How do I archive old ledgers?", [archive_page()])

    assert answer.sentences == [ARCHIVE_DESCRIPTION]


@pytest.mark.parametrize("heading", ["SEE ALSO", "See more", "Related pages"])
def test_a_list_of_other_pages_is_known_by_its_heading_in_any_case(heading: str) -> None:
    answer = generator().generate("How do I archive old ledgers?", [archive_page(f"tally archive > {heading}")])

    assert answer.sentences == [ARCHIVE_DESCRIPTION]


def test_a_section_whose_heading_only_begins_like_a_pointer_is_quoted() -> None:
    answer = generator().generate("How do I archive old ledgers?", [archive_page("See also: archiving old ledgers")])

    assert answer.sentences[0] == ARCHIVE_SEE_ALSO


def test_a_see_also_list_is_not_added_as_a_second_passage() -> None:
    man = source(
        "doc:tally-archive.1",
        f"DESCRIPTION\n\n{ARCHIVE_DESCRIPTION}\n\n# SEE ALSO\n\n`tally-restore`(1), `tally-prune`(1), `tally-old`(1)",
        headings=("tally-archive",),
    )

    answer = generator().generate("How do I archive old ledgers, and restore or prune them?", [man])

    assert all("tally-prune" not in s for s in answer.sentences)

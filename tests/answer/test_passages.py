"""chunk_sections: candidate passages are whole constructs with their intro, trimmed only at unit boundaries."""

from __future__ import annotations

import pytest

from deflect.answer.passages import (
    ATOMIC_LIMIT,
    Passage,
    Section,
    chunk_sections,
    ends_announcing,
    neighbours_wanted,
    opens_mid_sentence,
    opens_with_fragment,
)
from deflect.answer.units import ends_with_colon
from deflect.domain.models import Chunk, ScoredChunk, SourceHit

from .builders import LEDGER_INSTEAD, LEDGER_SAYS

PROCEDURE = """Restoring a ledger from a backup overwrites the local copy, so check the date first.

To restore a ledger:

1. Stop the tally daemon with `tally stop`.
2. Run `tally restore backup:/ledgers/main` and wait for the summary line.
3. Start the daemon again with `tally start`."""

CODE = """Each entry can be checked against its signature. Run this from the ledger folder:

```console
$ tally verify --all
checked 42 entries, 0 bad
```

A non-zero exit status means at least one entry failed."""

OPTIONS = """These options change what `tally sync` copies:

- **--since** *AGE*: Copy only entries newer than AGE, for example `7d`.
  Older entries stay where they are.
- **--dry-run**: Show what would be copied without copying anything.
- **--retries** *N*: Try a failed transfer N times before giving up."""

TABLE = """Every plan has its own sync limits:

| Plan | Syncs per day | Remotes |
|---|---|---|
| Solo | 10 | 1 |
| Team | 100 | 5 |"""

LONG_PROSE = " ".join(f"Sentence number {i} explains one more detail of the sync engine." for i in range(1, 31))


def passages(sections: list[Section]) -> list[Passage]:
    out: list[Passage] = []
    for section in sections:
        if section.whole:
            out.append(section.whole)
        for group in section.groups:
            out.extend([group.passage] if group.passage else [])
            out.extend(group.items)
    return out


def groups(text: str, max_chars: int = 1000) -> list[str]:
    return [g.passage.text for s in chunk_sections(text, "Sync", max_chars) for g in s.groups if g.passage]


def test_a_procedure_is_one_group_with_its_intro() -> None:
    assert groups(PROCEDURE) == [
        "Restoring a ledger from a backup overwrites the local copy, so check the date first.",
        PROCEDURE[PROCEDURE.index("To restore") :],
    ]


def test_a_procedure_is_never_cut_even_when_longer_than_the_budget() -> None:
    procedure = PROCEDURE[PROCEDURE.index("To restore") :]
    budget = len(procedure) // ATOMIC_LIMIT + 10
    assert len(procedure) > budget

    assert procedure in groups(PROCEDURE, max_chars=budget)


def test_a_code_block_comes_with_the_sentence_that_introduces_it_and_is_never_split() -> None:
    (group, closing) = groups(CODE)

    assert group.startswith("Each entry can be checked against its signature. Run this from the ledger folder:")
    assert group.endswith("```console\n$ tally verify --all\nchecked 42 entries, 0 bad\n```")
    assert closing == "A non-zero exit status means at least one entry failed."


def test_a_code_block_beyond_the_atomic_limit_is_not_quoted_and_its_intro_does_not_dangle() -> None:
    code_lines = "\n".join(f"$ tally verify ledger-{i}" for i in range(80))
    text = f"Check every ledger like this:\n\n```console\n{code_lines}\n```"
    budget = 300
    assert len(text) > ATOMIC_LIMIT * budget

    assert groups(text, max_chars=budget) == []


def test_each_option_of_a_definition_list_is_a_passage_with_its_description() -> None:
    (section,) = chunk_sections(OPTIONS, "Options", 1000)
    (group,) = section.groups

    assert [item.text for item in group.items] == [
        "- **--since** *AGE*: Copy only entries newer than AGE, for example `7d`.\n"
        "  Older entries stay where they are.",
        "- **--dry-run**: Show what would be copied without copying anything.",
        "- **--retries** *N*: Try a failed transfer N times before giving up.",
    ]
    assert group.passage is not None and group.passage.text == OPTIONS  # the whole list with its intro, too
    assert all(item.heading == "Options" for item in group.items)


def test_a_table_is_kept_whole_with_its_header_and_intro() -> None:
    assert groups(TABLE) == [TABLE]


def test_a_long_paragraph_is_trimmed_at_a_sentence_end_within_the_budget() -> None:
    (trimmed,) = groups(LONG_PROSE, max_chars=200)

    assert len(trimmed) <= 200
    assert LONG_PROSE.startswith(trimmed)
    assert trimmed.endswith("engine.")
    assert LONG_PROSE[len(trimmed)] == " "  # cut between sentences, not inside one


def test_a_long_bullet_list_is_trimmed_at_an_item_boundary() -> None:
    items = "\n".join(f"- Remote number {i} is checked before every sync." for i in range(40))
    text = f"The sync checks these remotes in order.\n\n{items}"

    (trimmed,) = groups(text, max_chars=400)

    assert len(trimmed) <= 400
    assert trimmed.endswith("is checked before every sync.")
    assert text.startswith(trimmed)


def test_trimming_never_ends_on_a_colon_whose_content_was_dropped() -> None:
    steps = "\n".join(f"- Remote {i} needs its own key." for i in range(30))
    text = f"Keys are created per remote. Before the first sync you need the following:\n\n{steps}"

    for budget in (120, 200, 300):
        for passage in passages(chunk_sections(text, "Keys", budget)):
            assert not ends_with_colon(passage.text), passage.text
            assert len(passage.text) <= budget


def test_an_intro_whose_code_the_chunk_boundary_cut_off_is_not_offered() -> None:
    text = "Syncs are incremental.\n\nTo run a full sync instead, use:\n\n```console\n$ tally sync --full"

    assert groups(text) == ["Syncs are incremental."]


def test_a_section_that_fits_is_a_passage_and_one_that_does_not_is_not() -> None:
    text = f"{PROCEDURE}\n\n{CODE}"

    (fits,) = chunk_sections(text, "Restore", 2000)
    (too_long,) = chunk_sections(text, "Restore", 400)

    assert fits.whole is not None and fits.whole.text == text and fits.whole.heading == "Restore"
    assert too_long.whole is None


def test_headings_inside_a_chunk_start_sections_shown_under_their_own_heading() -> None:
    text = f"{PROCEDURE}\n\n## Checking entries\n\n{CODE}"

    sections = chunk_sections(text, "Restore", 1000)

    assert [s.heading for s in sections] == ["Restore", "Checking entries"]
    assert all("## Checking entries" not in p.text for p in passages(sections))


def test_every_passage_is_verbatim_text_of_the_chunk() -> None:
    text = "\n\n".join([PROCEDURE, CODE, OPTIONS, TABLE, LONG_PROSE])

    for budget in (150, 400, 1000, 5000):
        for passage in passages(chunk_sections(text, "Sync", budget)):
            assert text[passage.start : passage.end] == passage.text


SAYS, INSTEAD = LEDGER_SAYS, LEDGER_INSTEAD


def test_a_lower_case_paragraph_after_the_code_its_intro_announced_goes_on_with_that_group() -> None:
    text = f"{SAYS}\n\n{INSTEAD}"

    [section] = chunk_sections(text, "9.2. Ledger pages", 1000)

    assert section.groups[0].passage is not None
    assert section.groups[0].passage.text == text.rsplit("\n\n", 1)[0], "the code, the fragment and its code together"
    assert [g.passage.text for g in section.groups[1:] if g.passage] == [INSTEAD.rsplit("\n\n", 1)[1]]


def test_a_lower_case_paragraph_after_code_that_no_intro_announced_starts_a_group_of_its_own() -> None:
    text = "A sample report:\n\n```\nentries: 4\n```\n\nThe report ends here.\n\n```\ntotal: 4\n```\n\ntally prints it."

    [section] = chunk_sections(text, "", 1000)

    assert section.groups[-1].passage is not None and section.groups[-1].passage.text == "tally prints it."


WAYS = """You can give the passphrase directly:

```bash
export TALLY_PASSPHRASE='correct horse'
```

Or ask a program for it:

```bash
export TALLY_PASSCOMMAND='pass show tally'
```"""


def test_a_paragraph_that_goes_on_from_the_one_before_is_quoted_with_it() -> None:
    text = f"{WAYS}\n\nAlso, the daemon reads the passphrase only once at start.\n\nOrder matters when both are set."

    assert groups(text) == [text.rsplit("\n\n", 1)[0], "Order matters when both are set."], (
        "the second way and the addition stay with the first way; 'Order' is not 'Or'"
    )


@pytest.mark.parametrize("opening", ["This option", "It", "Alsoran is a tool", "Or-ing two flags"])
def test_a_paragraph_opening_otherwise_starts_a_group_of_its_own(opening: str) -> None:
    text = f"Run `tally sync` to copy entries.\n\n{opening} is described below."

    assert groups(text) == ["Run `tally sync` to copy entries.", f"{opening} is described below."]


@pytest.mark.parametrize(
    ("text", "mid", "fragment"),
    [
        (INSTEAD, True, True),  # the end of a sentence the previous chunk began
        ("tally prints the report.\n\nMore.", True, False),  # a command's name, or a continued sentence
        ("The report ends here.", False, False),
        ("## Heading\n\ninstead of the usual:\n\n```\nx\n```", False, False),  # a section starts here
    ],
)
def test_where_a_chunk_may_open_inside_a_sentence(text: str, mid: bool, fragment: bool) -> None:
    assert opens_mid_sentence(text) is mid
    assert opens_with_fragment(text) is fragment


@pytest.mark.parametrize(
    ("text", "announcing"),
    [
        ("To restore a ledger, run:", True),
        ("Run it.\n\n- first:\n- second:", True),  # a list whose last item announces
        (SAYS, False),
        ("```\nunclosed fence\n", False),  # ingestion closes what it splits: an open fence is plain text's `~~~`
    ],
)
def test_whether_a_chunk_ends_on_an_intro_whose_content_the_next_chunk_holds(text: str, announcing: bool) -> None:
    assert ends_announcing(text) is announcing


def _hit(*chunks: tuple[int, str], total: int = 6, kind: str = "article") -> SourceHit:
    made = [
        Chunk(
            chunk_id=f"doc:ledger#{n}",
            source_id="doc:ledger",
            kind=kind,  # type: ignore[arg-type]
            title="Ledger pages",
            heading_path="9.2. Ledger pages",
            audience="public",
            text=text,
            origin="ledger.html",
            source_hash="hash",
            source_chunks=total,
        )
        for n, text in chunks
    ]
    return SourceHit(
        source_id="doc:ledger",
        title="Ledger pages",
        url="",
        kind=kind,
        score=0.7,
        dense=0.7,
        chunks=[ScoredChunk(chunk=c, dense=0.7, score=0.7) for c in made],
    )


def test_the_neighbours_wanted_are_the_chunk_before_a_fragment_and_the_chunk_after_an_intro() -> None:
    sources = [_hit((3, INSTEAD), (4, "Run this to see the report:"), (1, "Nothing cut here."))]

    assert neighbours_wanted(sources) == {"doc:ledger#2", "doc:ledger#5"}


def test_no_neighbour_is_wanted_beyond_the_page_already_retrieved_or_for_an_escalation() -> None:
    assert neighbours_wanted([_hit((0, INSTEAD), (5, "Run this to see the report:"))]) == set(), "no #-1, no #6"
    assert neighbours_wanted([_hit((2, "Run this to see the report:"), (3, INSTEAD))]) == set(), "both retrieved"
    assert neighbours_wanted([_hit((3, INSTEAD), kind="escalation")]) == set()

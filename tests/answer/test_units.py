"""split_blocks: a chunk's Markdown as whole blocks (paragraphs, lists, code, tables), each verbatim source text."""

from __future__ import annotations

import pytest

from deflect.answer.units import (
    Block,
    closing_contents,
    contents_sentences,
    ends_with_colon,
    has_sentence,
    shows_steps,
    split_blocks,
    without_contents,
)

# Shaped like a tool manual after structure-preserving parsing (our own words).
MANUAL = """Use `tally sync` to copy a ledger to a remote. A full stop inside code, as in `a.cfg. Done`, ends nothing.

To copy only the last week, run:

```console
$ tally sync --since 7d backup:/ledgers
synced 42 entries

$ tally verify backup:/ledgers
```

1. Stop the tally daemon.
2. Run the sync. It prints one line per ledger
   and a summary at the end.
3. Start the daemon again.

- **--since** *AGE*: Copy only entries newer than AGE, for example `7d`.
  Older entries stay where they are.
- **--dry-run**: Show what would be copied without copying anything.
- `--quiet`: Print nothing but errors.

| Option | Default |
|---|---|
| `--since` | none |
| `--retries` | 3 |

### Exit status

> Non-zero when any ledger failed."""


def kinds(text: str) -> list[str]:
    return [b.kind for b in split_blocks(text)]


def texts(text: str, block: Block) -> list[str]:
    return [text[s:e] for s, e in block.parts]


def test_blocks_come_in_order_and_each_is_verbatim_text() -> None:
    blocks = split_blocks(MANUAL)

    assert kinds(MANUAL) == ["paragraph", "paragraph", "code", "list", "list", "table", "heading", "quote"]
    for block in blocks:
        assert block.text(MANUAL) == MANUAL[block.start : block.end]
        assert block.text(MANUAL).strip() == block.text(MANUAL)
        for start, end in block.parts:
            assert block.start <= start < end <= block.end


def test_a_paragraph_is_cut_into_sentences_but_never_inside_inline_code() -> None:
    first = split_blocks(MANUAL)[0]

    assert texts(MANUAL, first) == [
        "Use `tally sync` to copy a ledger to a remote.",
        "A full stop inside code, as in `a.cfg. Done`, ends nothing.",
    ]


def test_a_fenced_code_block_is_one_closed_block_with_its_line_breaks_and_blank_lines() -> None:
    code = split_blocks(MANUAL)[2]

    assert code.kind == "code" and code.closed
    assert code.text(MANUAL).splitlines()[0] == "```console"
    assert "synced 42 entries\n\n$ tally verify backup:/ledgers\n```" in code.text(MANUAL)
    assert code.parts == ((code.start, code.end),)


def test_a_code_fence_cut_off_by_the_chunk_boundary_is_marked_unclosed() -> None:
    text = "Run this:\n\n```sh\ntally sync --since 7d\ntally verify"

    code = split_blocks(text)[-1]

    assert code.kind == "code" and not code.closed


def test_numbered_items_keep_their_continuation_lines_and_the_list_is_ordered() -> None:
    steps = split_blocks(MANUAL)[3]

    assert steps.ordered and not steps.definitions
    assert texts(MANUAL, steps) == [
        "1. Stop the tally daemon.",
        "2. Run the sync. It prints one line per ledger\n   and a summary at the end.",
        "3. Start the daemon again.",
    ]


def test_a_list_of_term_colon_description_items_is_a_definition_list() -> None:
    options = split_blocks(MANUAL)[4]

    assert options.definitions and not options.ordered
    assert texts(MANUAL, options)[0] == (
        "- **--since** *AGE*: Copy only entries newer than AGE, for example `7d`.\n  Older entries stay where they are."
    )
    assert len(options.parts) == 3


@pytest.mark.parametrize(
    "items",
    [
        "- **Collapse columns** you are not using.\n- **Archive done tasks** every week.",
        "- Open the settings.\n- Save.",
    ],
)
def test_bold_lead_ins_or_plain_items_are_not_a_definition_list(items: str) -> None:
    (block,) = split_blocks(items)

    assert block.kind == "list" and not block.definitions


def test_numbered_entries_each_titled_on_a_line_of_their_own_stand_alone_like_definitions() -> None:
    text = (
        "1. **Largest ledger**\n\n    A ledger holds at most 2 million entries.\n\n"
        "2. **Longest entry name**\n\n    An entry name is at most 200 characters long."
    )
    (block,) = split_blocks(text)

    assert block.ordered and block.definitions
    assert texts(text, block)[1] == "2. **Longest entry name**\n\n    An entry name is at most 200 characters long."


def test_numbered_steps_that_open_in_bold_and_go_on_are_still_a_procedure() -> None:
    (block,) = split_blocks("1. **Stop** the daemon first.\n2. **Run** `tally sync`.")

    assert block.ordered and not block.definitions


def test_a_table_is_one_block_with_its_header_row() -> None:
    table = split_blocks(MANUAL)[5]

    assert table.kind == "table"
    assert table.text(MANUAL).splitlines() == [
        "| Option | Default |",
        "|---|---|",
        "| `--since` | none |",
        "| `--retries` | 3 |",
    ]


def test_a_heading_block_carries_its_title() -> None:
    heading = split_blocks(MANUAL)[6]

    assert heading.kind == "heading" and heading.title == "Exit status"


def test_blank_text_has_no_blocks() -> None:
    assert split_blocks("") == ()
    assert split_blocks("\n\n   \n") == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("To copy only the last week, run:", True), ("**Note:**", True), ("Run it: then wait.", False), ("", False)],
)
def test_ends_with_colon(text: str, expected: bool) -> None:
    assert ends_with_colon(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tally-verify - check a ledger", False),  # a man page's NAME line names the thing, says nothing
        ("```\ntally [options] verify LEDGER\n```", False),  # a bare synopsis
        ("| Option | Meaning |\n| --- | --- |\n| `--all` | check every entry of the ledger. |", False),
        ("`tally verify` checks every entry of a ledger.", True),
        ("To check every entry, run:\n\n```\ntally verify --all\n```", True),
        ("- **--all**: check every entry of the ledger.", True),
        ("Checks it.", False),  # too short to stand on its own
    ],
)
def test_a_sentence_is_prose_outside_code_and_tables(text: str, expected: bool) -> None:
    assert has_sentence(text) is expected


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("This article explains what counts as a failed sync, how retries are spaced and who to call.", True),
        ("This guide is for members who cannot change billing: it explains what you can still do.", True),
        ("The following section describes every option of `tally sync`.", True),
        ("In this chapter, the ledger format is taken apart field by field.", True),
        ("This explains why a locked ledger cannot be synced.", False),  # says why, names no page
        ("The article count on the dashboard shows how many ledgers you have.", False),
        ("This page loads slowly when a ledger has thousands of entries.", False),
    ],
)
def test_a_sentence_saying_what_the_page_goes_on_to_tell_is_a_table_of_contents(sentence: str, expected: bool) -> None:
    text = f"Ledgers sync every hour. {sentence}"

    assert bool(contents_sentences(text)) is expected


def test_without_contents_drops_only_the_table_of_contents_and_keeps_the_rest_verbatim() -> None:
    text = (
        "Ledgers sync every hour. This article explains how retries are spaced and who to call.\n\n"
        "- A failed sync is retried 5 times."
    )

    kept = without_contents(text)

    assert "retries are spaced" not in kept
    assert kept.startswith("Ledgers sync every hour. ")
    assert kept.endswith("- A failed sync is retried 5 times.")
    assert without_contents("Ledgers sync every hour.") == "Ledgers sync every hour."


def test_a_closing_table_of_contents_is_found_after_an_introduction_that_says_something() -> None:
    text = "Every ledger syncs every hour, free of charge. This article explains how retries are spaced."

    cut = closing_contents(text)

    assert cut is not None
    assert text[:cut].rstrip() == "Every ledger syncs every hour, free of charge."


@pytest.mark.parametrize(
    "text",
    [
        "This article explains how retries are spaced and who to call.",  # nothing would be left
        "This article explains how retries are spaced. Every ledger syncs every hour, free of charge.",  # not last
        "Every ledger syncs every hour, free of charge. This article explains:\n\n- retries\n- who to call",
        "Every ledger syncs every hour, free of charge. Retries are spaced out over a day.",  # no contents at all
    ],
)
def test_no_closing_table_of_contents_unless_it_ends_a_passage_that_says_something_before_it(text: str) -> None:
    assert closing_contents(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("To restore a ledger:\n\n1. Stop the daemon.\n2. Run the restore.\n3. Start the daemon again.", True),
        ("To check every entry, run this from the ledger folder:\n\n```\ntally verify --all\n```", True),
        # the tail of a numbered list whose first step is elsewhere, not a procedure
        ("2. Switch syncing off while you edit the ledger by hand.\n3. Switch it on again when you are done.", False),
        ("```\nchecked 42 entries, 0 bad\n```", False),  # code without a sentence saying what it is for
        ("Ledgers can be restored:\n\n- from a backup folder\n- from a remote copy", False),  # a bullet list
        ("Run `tally restore` to restore a ledger from its latest backup.", False),  # inline code is a mention
    ],
)
def test_shows_steps_is_a_procedure_from_its_first_step_or_a_code_block_with_a_sentence(
    text: str, expected: bool
) -> None:
    assert shows_steps(text) is expected

"""split_units: prose becomes sentences, list items stay whole, markup that is not prose is skipped."""

from __future__ import annotations

from deflect.answer.units import split_units


def texts(text: str) -> list[str]:
    return [u.text for u in split_units(text)]


def test_prose_is_split_into_sentences() -> None:
    units = split_units("Invoices are monthly. Can I change that? Yes, on annual plans! 2FA is optional.")

    assert [u.text for u in units] == [
        "Invoices are monthly.",
        "Can I change that?",
        "Yes, on annual plans!",
        "2FA is optional.",
    ]
    assert all(u.list_id is None and not u.numbered for u in units)
    assert [u.position for u in units] == [0, 1, 2, 3]


def test_sentences_of_consecutive_prose_lines_keep_their_order() -> None:
    assert texts("First line here.\nSecond line here. Third sentence here.") == [
        "First line here.",
        "Second line here.",
        "Third sentence here.",
    ]


def test_a_list_item_is_one_unit_even_with_several_sentences() -> None:
    units = split_units("- Click Save. Then close the dialog.\n* Reload the page. It should work now.")

    assert [u.text for u in units] == [
        "- Click Save. Then close the dialog.",
        "* Reload the page. It should work now.",
    ]
    assert units[0].list_id is not None and units[0].list_id == units[1].list_id
    assert not any(u.numbered for u in units)


def test_consecutive_numbered_items_share_one_list_and_are_marked_numbered() -> None:
    units = split_units("Do this:\n1. Open Settings.\n2. Click Billing.\n3) Download the PDF.")

    steps = units[1:]
    assert [u.text for u in steps] == ["1. Open Settings.", "2. Click Billing.", "3) Download the PDF."]
    assert all(u.numbered for u in steps)
    assert len({u.list_id for u in steps}) == 1 and steps[0].list_id is not None
    assert units[0].list_id is None and not units[0].numbered
    assert [u.position for u in units] == [0, 1, 2, 3]


def test_lists_separated_by_a_blank_line_or_prose_get_different_ids() -> None:
    units = split_units("1. Alpha step.\n2. Beta step.\n\n1. Gamma step.\nA sentence between.\n1. Delta step.")

    ids = {u.text: u.list_id for u in units}
    assert ids["1. Alpha step."] == ids["2. Beta step."]
    assert len({ids["1. Alpha step."], ids["1. Gamma step."], ids["1. Delta step."]}) == 3
    assert ids["A sentence between."] is None


def test_headings_code_fences_tables_and_blockquotes_are_skipped() -> None:
    text = "\n".join(
        [
            "# Exporting data",
            "## Steps",
            "Exports run nightly.",
            "```bash",
            "deflect export --all. Then wait.",
            "1. not a step inside code",
            "```",
            "| Format | Size |",
            "|---|---|",
            "> Quoted customer text here.",
            "Exports are kept for a week.",
        ]
    )

    assert texts(text) == ["Exports run nightly.", "Exports are kept for a week."]


def test_blank_text_and_fragments_give_no_units() -> None:
    assert split_units("") == []
    assert split_units("\n\n   \n") == []
    assert texts("Ok.") == []  # too short to be an answer sentence

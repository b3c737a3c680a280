"""reStructuredText parsed by docutils: the structure rst states is kept, Sphinx's markup never reaches the text.

The fixtures are written here, in the shapes Sphinx manuals use (a made-up `brewctl` tool).
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from deflect.ingest.chunking import Chunker
from deflect.ingest.rst import RstError, rst_to_html
from deflect.ingest.sources import parse_file, parse_rst

SIG = "rst-test"

GUIDE = """\
:orphan:

.. _brew-guide:

==========
Brew guide
==========

.. toctree::
   :maxdepth: 2

   install

Install brewctl first.

Setting up
==========

Run the installer::

    $ brewctl init --pot 2
      pot 2 ready

.. code-block:: bash
   :linenos:
   :caption: install.sh

   sudo apt install brewctl
   brewctl  --version   # two spaces kept

Options
-------

-v, --verbose     Print every step.
-s N, --strength=N
                  Coffee strength, 1 to 5.

.. _grind-label:

Grinding
~~~~~~~~

Pick a size.
"""

TABLES = """\
Sizes
=====

======  ============
Size    Use
======  ============
fine    espresso
coarse  french press
======  ============

+---------+--------+
| Beans   | Roast  |
+=========+========+
| arabica | medium |
+---------+--------+
| robusta | dark   |
+---------+--------+
"""

LISTS = """\
Daily use
=========

crema
    The foam on top of an espresso.

grind size
    How fine the beans are ground.

:Default: medium
:Since: 2.0

* Fill the hopper.
* Close the lid.

#. Switch on.
#. Wait for the light.

   It turns green.

#. Press brew.
"""


def body_of(text: str, origin: str = "manual/guide.rst") -> str:
    return parse_rst(text, origin, SIG).body


def test_sections_of_several_levels_become_headings_and_the_title_the_first() -> None:
    doc = parse_rst(GUIDE, "manual/guide.rst", SIG)

    assert doc.title == "Brew guide"
    assert "title: first heading" in doc.inferred
    headings = [line.split(" {#")[0] for line in doc.body.splitlines() if line.startswith("#")]
    assert headings == ["# Brew guide", "## Setting up", "### Options", "#### Grinding"]
    chunks = Chunker(400, 40).chunk(doc)
    assert "Setting up > Options > Grinding" in [c.heading_path for c in chunks]


def test_a_literal_block_after_a_double_colon_keeps_its_lines_and_the_colon_is_single() -> None:
    body = body_of(GUIDE)

    assert "Run the installer:\n\n```\n$ brewctl init --pot 2\n  pot 2 ready\n```" in body


def test_a_code_block_keeps_its_language_and_its_lines_verbatim() -> None:
    body = body_of(GUIDE)

    assert "```bash\nsudo apt install brewctl\nbrewctl  --version   # two spaces kept\n```" in body
    assert "linenos" not in body and "install.sh" not in body


def test_an_option_list_keeps_each_option_as_the_term_of_its_description() -> None:
    body = body_of(GUIDE)

    assert "- **`-v, --verbose`**: Print every step." in body
    assert "- **`-s N, --strength=N`**: Coffee strength, 1 to 5." in body


def test_directives_that_name_files_or_build_navigation_leave_nothing() -> None:
    body = body_of(GUIDE)

    assert "toctree" not in body and "maxdepth" not in body and "install\n" not in body
    assert "orphan" not in body  # Sphinx's file-wide metadata is not text


def test_definition_and_field_lists_keep_term_and_description_together() -> None:
    body = body_of(LISTS)

    assert "- **crema**: The foam on top of an espresso." in body
    assert "- **grind size**: How fine the beans are ground." in body
    assert "- **Default**: medium" in body and "- **Since**: 2.0" in body


def test_bullet_lists_and_an_enumerated_procedure_keep_their_items_and_numbers() -> None:
    body = body_of(LISTS)

    assert "- Fill the hopper.\n- Close the lid." in body
    assert re.search(r"1\. Switch on\.\n2\. Wait for the light\.\n\n +It turns green\.\n3\. Press brew\.", body)


def test_simple_and_grid_tables_keep_rows_under_their_headers() -> None:
    body = body_of(TABLES)

    assert "| Size | Use |\n| --- | --- |\n| fine | espresso |\n| coarse | french press |" in body
    assert "| Beans | Roast |\n| --- | --- |\n| arabica | medium |\n| robusta | dark |" in body


def test_a_malformed_table_stays_as_drawn_and_the_rest_of_the_file_parses() -> None:
    text = "Sizes\n=====\n\n=====  =====\nA      B\n=====  =====\ntoolong1  x\n=====  =====\n\nAfter the table.\n"

    body = body_of(text)

    assert "```\n=====  =====\nA      B\n=====  =====\ntoolong1  x\n=====  =====\n```" in body
    assert "After the table." in body
    assert "Malformed" not in body and "ERROR" not in body


ROLES = """\
Roles
=====

.. _proxy-label:

Proxies
-------

Install with :command:`apt`, read :ref:`Grinding <grind-label>` and :doc:`usage`, then :ref:`proxy-label` and
:ref:`elsewhere-label`. The option :option:`brewctl --strength` and :envvar:`BREW_HOME` live in
:file:`/etc/brew.conf`; :samp:`brewctl pour {cups}`; press :kbd:`Ctrl+C`. See :pep:`8`, :rfc:`2324`,
:func:`~brew.pot.pour`, :py:meth:`brew.Pot.fill`, :guilabel:`&Cancel`, :menuselection:`File --> Open`,
:term:`crema`, :abbr:`ESP (espresso)` and :frobnicate:`some words`.
"""


def test_sphinx_roles_read_as_their_text_and_the_typed_ones_as_code() -> None:
    body = body_of(ROLES)

    assert "Install with `apt`, read Grinding and usage, then Proxies and elsewhere-label." in body
    assert "The option `brewctl --strength` and `BREW_HOME` live in `/etc/brew.conf`" in body
    assert "`brewctl pour {cups}`; press `Ctrl+C`. See PEP 8, RFC 2324, `pour`, `brew.Pot.fill`, Cancel, " in body
    assert "File \u2023 Open, crema, ESP (espresso) and some words." in body
    assert not re.search(r":[a-z:]+:`", body)


LINKS = """\
Downloads
=========

Download from `BrewHub`_, `the mirror <https://mirror.example/brew>`_, `Elsewhere`_ or anonymous__;
see brewhub_ and ``--proxy`` for proxies. Brewed |today|, |undefined| and [#]_.

.. _BrewHub: https://brewhub.example/
.. _brewhub: https://brewhub.example/
__ https://anon.example/
.. |today| replace:: on Monday
"""


def test_hyperlink_references_keep_their_text_without_markup_even_when_undefined() -> None:
    body = body_of(LINKS)

    assert "Download from BrewHub, the mirror, Elsewhere or anonymous;" in body
    assert "see brewhub and `--proxy` for proxies. Brewed on Monday, undefined and ." in body
    assert "`_" not in body and "https://" not in body and "``" not in body


NOTES = """\
Care
====

.. note:: Descale monthly.

.. warning::

   The pot is hot.

   Let it cool first.

.. seealso:: The cleaning guide.

.. versionadded:: 2.1
   The ``--pot`` option.

.. deprecated:: 3.0

.. tab:: Windows

   .. code-block:: powershell

      brewctl.exe init

.. tab:: Linux

   .. pip-command-usage:: pour "brewctl"

.. only:: html

   Kept from an only block.

.. frobnicate:: some-arg
   :weird-option: 1

   Content of an unknown directive stays.

.. pip-cli::

   $ brewctl pour --cups 2
   [...]

.. option:: --pot <n>

   Which pot to brew into.

.. py:function:: pour(cups=1)
                 pour(mug)

   Pour into cups or a mug.
"""


def test_admonitions_are_labelled_paragraphs_and_version_notes_short_ones() -> None:
    body = body_of(NOTES)

    assert "**Note:** Descale monthly." in body
    assert "**Warning:** The pot is hot.\n\nLet it cool first." in body
    assert "**See also:** The cleaning guide." in body
    assert "*New in version 2.1:* The `--pot` option." in body
    assert "*Deprecated since version 3.0.*" in body


def test_wrappers_and_unknown_directives_keep_their_content() -> None:
    body = body_of(NOTES)

    assert "**Windows:**\n\n```powershell\nbrewctl.exe init\n```" in body
    assert "Kept from an only block." in body
    assert "Linux" not in body  # a tab with nothing in it leaves no label over nothing
    assert "Content of an unknown directive stays." in body
    assert "```\n$ brewctl pour --cups 2\n[...]\n```" in body  # a shell session stays verbatim
    assert "some-arg" not in body and "weird-option" not in body and "\n.. " not in body


def test_content_written_right_under_an_unknown_directive_is_kept() -> None:
    # No blank line between the directive and its text: docutils reads the lines as the directive's argument.
    text = (
        "Grammar\n=======\n\n.. productionlist::\n   pot: small | large\n\n"
        ".. deprecated-removed:: 3.4 3.6\n   Use pour instead.\n"
    )

    body = body_of(text)

    assert "pot: small | large" in body
    assert "Use pour instead." in body and "3.6" not in body


def test_footnotes_and_citations_are_their_text_led_by_their_label() -> None:
    text = "Notes\n=====\n\nSee [1]_ and [CIT2002]_.\n\n.. [1] First footnote.\n.. [CIT2002] A citation.\n"

    body = body_of(text)

    assert "See [1] and [CIT2002]." in body
    assert "[1] First footnote." in body and "[CIT2002] A citation." in body


def test_object_descriptions_are_definitions_with_the_signature_as_the_term() -> None:
    body = body_of(NOTES)

    assert "- **`--pot <n>`**: Which pot to brew into." in body
    assert "- **`pour(cups=1)`, `pour(mug)`**: Pour into cups or a mug." in body


def test_raw_html_is_dropped_and_never_reaches_the_page() -> None:
    text = "Raw\n===\n\nBefore.\n\n.. raw:: html\n\n   <script>alert(1)</script><b>bold raw</b>\n\nAfter.\n"

    html = rst_to_html(text)
    body = body_of(text)

    assert "<script" not in html and "bold raw" not in html
    assert "Before.\n\nAfter." in body


def test_include_and_literalinclude_read_no_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET LINE\n", encoding="utf-8")
    text = (
        f"Inc\n===\n\n.. include:: {secret}\n\n.. literalinclude:: {secret}\n\n"
        f".. csv-table:: Data\n   :file: {secret}\n\n.. raw:: html\n   :file: {secret}\n\nAfter.\n"
    )

    body = body_of(text)

    assert "TOP SECRET" not in body and "TOP SECRET" not in rst_to_html(text)
    assert "After." in body


def test_a_leading_field_list_is_the_articles_metadata() -> None:
    text = (
        ".. A comment first.\n\n.. meta::\n   :keywords: pump\n\n:audience: internal\n:product: brewctl\n:orphan:\n\n"
        "Runbook\n=======\n\nRestart the pump.\n"
    )

    doc = parse_rst(text, "ops/runbook.rst", SIG)

    assert doc.audience == "internal" and doc.product == "brewctl"
    assert not any(i.startswith("audience") for i in doc.inferred)
    assert "audience" not in doc.body and "orphan" not in doc.body


def test_a_file_docutils_cannot_parse_is_read_as_plain_text_and_says_so() -> None:
    # Each line indented one column deeper than the last: docutils nests a block quote per line and runs out of
    # recursion; the plain-text reader has no such limit.
    text = "Deep notes\n==========\n\n" + "\n".join(" " * i + f"note {i}\n" for i in range(400))
    with pytest.raises(RstError):
        rst_to_html(text)

    doc = parse_rst(text, "manual/deep.rst", SIG)

    assert doc.title == "Deep notes"
    assert "note 399" in doc.body
    assert any(i.startswith("body: read as plain text (docutils failed: RecursionError") for i in doc.inferred)


def test_a_malformed_file_still_parses_without_system_messages() -> None:
    text = (
        "Broken\n======\n\n.. code-block::\n\n* item\n  continued badly\n* :bad:`x\n\nTitle\n===\n\nText `unclosed.\n"
    )

    body = body_of(text)

    assert "- item continued badly" in body  # the bad code block above it took nothing with it
    assert "Text `unclosed." in body  # an unclosed backquote is what the author wrote
    assert "System Message" not in body and "ERROR" not in body and "WARNING" not in body


def test_gzipped_rst_is_parsed_as_rst(tmp_path: Path) -> None:
    path = tmp_path / "guide.rst.gz"
    path.write_bytes(gzip.compress(GUIDE.encode()))

    docs, errors = parse_file(path, "manual/guide.rst.gz", SIG)

    assert errors == [] and docs[0].source_id == "doc:manual/guide"
    assert "- **`-v, --verbose`**: Print every step." in docs[0].body


def test_a_sphinx_sources_copy_is_still_skipped_and_a_bare_txt_stays_plain_text(tmp_path: Path) -> None:
    txt = tmp_path / "notes.txt"
    txt.write_text("Notes\n=====\n\nSee :ref:`x` as written.\n", encoding="utf-8")

    docs, _ = parse_file(txt, "notes.txt", SIG)

    assert ":ref:`x`" in docs[0].body  # a .txt file is plain text: nothing is interpreted

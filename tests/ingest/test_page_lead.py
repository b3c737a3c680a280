"""The optional page lead: later chunks of a long page are embedded with the page's opening sentence."""

from __future__ import annotations

from deflect.ingest.chunking import Chunker
from deflect.ingest.sources import parse_markdown

SIG = "test-signature"
PAGE = """---
title: tidyup trim
audience: public
---
# tidyup trim

```
tidyup trim [--older-than DAYS] FOLDER
```

This command removes snapshots older than a number of days from a folder.
It never touches the newest snapshot.

## Options

| option | meaning |
| --- | --- |
| `--older-than DAYS` | remove snapshots older than DAYS days |
| `--dry-run` | list what would be removed |

## Examples

```
$ tidyup trim --older-than 30 /snapshots
```
"""
LEAD = "This command removes snapshots older than a number of days from a folder."


def chunks(page_lead: bool, size: int = 50) -> list:
    return Chunker(size, 0, page_lead).chunk(parse_markdown(PAGE, "usage/trim.md", SIG))


def test_later_chunks_carry_the_pages_opening_sentence_in_what_is_embedded_only() -> None:
    plain, led = chunks(False), chunks(True)
    assert [c.text for c in plain] == [c.text for c in led]  # what is stored and quoted does not change
    examples = next(c for c in led if c.heading_path == "Examples")
    assert examples.embed_text.startswith(f"tidyup trim: {LEAD}\nExamples")
    assert all(LEAD not in c.embed_text for c in plain if LEAD not in c.text)  # off: nothing added
    # The chunk that already holds the sentence is not given it twice.
    opening = next(c for c in led if LEAD in c.text)
    assert opening.embed_text.count(LEAD) == 1


def test_the_setting_changes_the_signature_so_a_switch_re_embeds() -> None:
    assert Chunker(200, 30, True).signature != Chunker(200, 30, False).signature

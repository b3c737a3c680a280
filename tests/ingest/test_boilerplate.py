"""Blocks a folder's pages all repeat are taken out of its articles; whatever is content stays.

The pages are shaped like pandoc's man pages (one `<h1>` per man section, a suite footer under the last one),
written here for a made-up `frob` suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deflect.domain.models import IngestReport, SourceDoc
from deflect.domain.ports import Index
from deflect.ingest.blocks import sections
from deflect.ingest.boilerplate import PageBlocks, applied, fingerprint, page_blocks, repeated, strip
from deflect.ingest.chunking import Chunker
from deflect.ingest.pipeline import Ingestor
from deflect.ingest.sources import parse_paths
from deflect.testing import HashEmbedder, InMemoryIndex

FOOTER = "<h1 id='frob'>FROB</h1>\n<p>Part of the <code>frob</code>(1) suite.</p>"
FOOTER_TEXT = "Part of the `frob`(1) suite."


def man_page(name: str, summary: str, extra: str = "", footer: str = FOOTER) -> str:
    return f"""<!DOCTYPE html>
<html><head><title>{name}(1) Frob 1.2</title></head>
<body>
<header id="title-block-header"><h1 class="title">{name}(1) Frob 1.2</h1></header>
<h1 id="name">NAME</h1>
<p>{name} - {summary}</p>
<h1 id="description">DESCRIPTION</h1>
<p><code>{name}</code> is how you {summary}; it reads the repository in <code>$FROB_DIR</code>.</p>
{extra}
{footer}
</body></html>
"""


SUMMARIES = {
    "frob-init": "create a new frob repository",
    "frob-save": "save a snapshot of a directory tree",
    "frob-prune": "delete snapshots older than a given age",
    "frob-mount": "mount the snapshots as a read-only file system",
}


def write_pages(folder: Path, pages: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, html in pages.items():
        (folder / f"{name}.html").write_text(html, encoding="utf-8")


def docs(kb: Path, *paths: Path) -> dict[str, SourceDoc]:
    return {d.source_id: d for d in parse_paths(list(paths) or [kb], kb, "test").docs}


def test_a_footer_on_every_page_of_a_folder_is_taken_out_and_the_rest_kept(tmp_path: Path) -> None:
    write_pages(tmp_path / "man", {n: man_page(n, s) for n, s in SUMMARIES.items()})

    found = docs(tmp_path)

    for name, summary in SUMMARIES.items():
        body = found[f"doc:man/{name}"].body
        assert "suite" not in body
        assert f"`{name}` is how you {summary}" in body
        assert "# FROB" in body  # the heading stays; a section with no blocks left is never chunked


def test_a_block_repeated_on_two_pages_only_stays(tmp_path: Path) -> None:
    shared = "<p>Snapshots are kept until frob-prune removes them.</p>"
    pages = {n: man_page(n, s, extra=shared if n in {"frob-save", "frob-prune"} else "") for n, s in SUMMARIES.items()}
    write_pages(tmp_path / "man", pages)

    found = docs(tmp_path)

    assert "Snapshots are kept until frob-prune removes them." in found["doc:man/frob-save"].body
    assert "Snapshots are kept until frob-prune removes them." in found["doc:man/frob-prune"].body


def test_a_footer_stamped_with_each_pages_own_date_is_taken_out(tmp_path: Path) -> None:
    stamps = ["2020-09-25 17:27:11", "2022-01-03 09:05:59", "2019-11-30 23:00:00", "2021-06-01 12:30:00"]
    pages = {
        n: man_page(n, s, footer=f"<p><small><i>This page last modified on {stamp} UTC</i></small></p>")
        for (n, s), stamp in zip(SUMMARIES.items(), stamps, strict=True)
    }
    write_pages(tmp_path / "man", pages)

    found = docs(tmp_path)

    for name, summary in SUMMARIES.items():
        body = found[f"doc:man/{name}"].body
        assert "last modified" not in body
        assert f"`{name}` is how you {summary}" in body


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Last updated: Nov 30, 2026.", "Last updated: March 2, 2025."),
        ("Generated on 30 November 2026 at 18:13.", "Generated on 2 Feb 2025 at 07:45."),
        ("Built 2026-11-30T18:13:07 from the sources.", "Built 2025-02-02T07:45:00 from the sources."),
    ],
)
def test_blocks_that_differ_only_in_a_date_share_a_fingerprint(first: str, second: str) -> None:
    assert fingerprint(first) == fingerprint(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("This option was added in version 3.8.0.", "This option was added in version 3.9.2."),
        ("It keeps 7 daily and 4 weekly archives.", "It keeps 14 daily and 8 weekly archives."),
        ("Maybe 1 2020 is not a date.", "Maybe 2 2021 is not a date."),
    ],
)
def test_versions_and_other_numbers_still_tell_blocks_apart(first: str, second: str) -> None:
    # "Added in version 3.8" on each page of a reference is content; only dates and times are masked.
    assert fingerprint(first) != fingerprint(second)


def test_code_tables_definitions_and_labels_on_every_page_stay(tmp_path: Path) -> None:
    # Each page's copy of an option or an example is what a question about that page's command needs.
    extra = """<h1 id="options">OPTIONS</h1>
<dl><dt>-v, --verbose</dt><dd>increase verbosity (can be used more than once).</dd></dl>
<p>Note</p>
<pre><code>$ frob --version</code></pre>
<table><tr><th>Exit status</th><th>Meaning</th></tr><tr><td>0</td><td>success</td></tr></table>"""
    write_pages(tmp_path, {n: man_page(n, s, extra=extra) for n, s in SUMMARIES.items()})

    for doc in docs(tmp_path).values():
        assert "- **-v, --verbose**: increase verbosity" in doc.body
        assert "$ frob --version" in doc.body and "| 0 | success |" in doc.body
        assert "\nNote\n" in doc.body
        assert "suite" not in doc.body


def test_key_value_items_on_every_page_stay(tmp_path: Path) -> None:
    # npm's docs: each option has a `* Default: false` / `* Type: Boolean` list, on most pages of the folder. The
    # option is the page's last section, where a footer would be: only the item's shape says it is content.
    option = """<h1 id="options">OPTIONS</h1><h2 id="save-exact">save-exact</h2>
<ul><li>Default: false</li><li>Type: Boolean</li></ul>
<p>Dependencies saved to package.json get an exact version.</p>"""
    write_pages(tmp_path, {n: man_page(n, s, extra=option, footer="") for n, s in SUMMARIES.items()})

    for doc in docs(tmp_path).values():
        assert "- Default: false\n- Type: Boolean" in doc.body


def test_a_block_repeated_inside_a_section_between_others_stays(tmp_path: Path) -> None:
    # Chrome sits around a page's content; a paragraph every page repeats in a section of its body is a fact of it.
    config = """<h1 id="config">CONFIGURATION</h1>
<p>This value is not exported to the environment for child processes.</p>"""
    write_pages(tmp_path, {n: man_page(n, s, extra=config) for n, s in SUMMARIES.items()})

    for doc in docs(tmp_path).values():
        assert "This value is not exported to the environment for child processes." in doc.body
        assert "suite" not in doc.body  # the footer, in the last section, still goes


def test_folders_are_counted_apart_and_small_folders_are_left_alone(tmp_path: Path) -> None:
    # Two pages of another folder with the same footer: not enough pages there, whatever the first folder holds.
    write_pages(tmp_path / "man", {n: man_page(n, s) for n, s in SUMMARIES.items()})
    write_pages(tmp_path / "guide", {n: man_page(n, s) for n, s in list(SUMMARIES.items())[:2]})
    write_pages(tmp_path / "single", {"frob-init": man_page("frob-init", "create a new frob repository")})

    found = docs(tmp_path)

    assert all("suite" not in found[f"doc:man/{n}"].body for n in SUMMARIES)
    assert all(FOOTER_TEXT in found[f"doc:{d}/frob-init"].body for d in ("guide", "single"))


def test_a_file_ingested_alone_loses_the_same_blocks_as_in_its_folder(tmp_path: Path) -> None:
    # Otherwise ingesting one edited page would put its footer back until the next folder ingest.
    write_pages(tmp_path, {n: man_page(n, s) for n, s in SUMMARIES.items()})

    alone = docs(tmp_path, tmp_path / "frob-save.html")

    assert alone == {"doc:frob-save": docs(tmp_path)["doc:frob-save"]}
    assert "suite" not in alone["doc:frob-save"].body


def test_the_content_hash_changes_only_for_pages_that_lose_a_block(tmp_path: Path) -> None:
    pages = {n: man_page(n, s) for n, s in SUMMARIES.items()}
    pages["frob-mount"] = man_page("frob-mount", SUMMARIES["frob-mount"], footer="")
    write_pages(tmp_path, pages)
    stripped = docs(tmp_path)
    (tmp_path / "frob-save.html").unlink()
    (tmp_path / "frob-prune.html").unlink()

    kept = docs(tmp_path)  # two pages left: no boilerplate any more

    assert kept["doc:frob-init"].content_hash != stripped["doc:frob-init"].content_hash
    assert FOOTER_TEXT in kept["doc:frob-init"].body
    assert kept["doc:frob-mount"] == stripped["doc:frob-mount"]


def test_a_page_that_is_all_boilerplate_keeps_it() -> None:
    page = PageBlocks(frozenset({"a", "b"}), solid=False)

    assert applied(page, frozenset({"a", "b", "c"})) == frozenset()
    assert applied(page, frozenset({"a"})) == frozenset({"a"})
    assert applied(PageBlocks(frozenset({"a"}), solid=True), frozenset({"a"})) == frozenset({"a"})


def test_the_threshold_is_three_pages_and_half_the_folder() -> None:
    def pages(n: int, with_block: int, folder: str = "") -> dict[str, PageBlocks]:
        return {f"{folder}p{i}.md": PageBlocks(frozenset({"x"} if i < with_block else set()), True) for i in range(n)}

    assert repeated(pages(3, 3)) == {"": frozenset({"x"})}
    assert repeated(pages(4, 2)) == {}  # half of the folder, but two pages
    assert repeated(pages(10, 5, "m/")) == {"m": frozenset({"x"})}
    assert repeated(pages(10, 4, "m/")) == {}


def test_stripping_keeps_the_list_and_the_paragraphs_around_a_dropped_block() -> None:
    body = (
        "# Links\n\nSee below.\n\n- Report a bug at the tracker\n- Read the frob FAQ\n\n"
        "Thanks for using frob today.\n\nB\n"
    )
    gone = {"- Report a bug at the tracker", "Thanks for using frob today.", "See below."}

    out = strip(body, frozenset(fingerprint(t) for t in gone))

    # "See below." is a label (two words): never counted, never dropped.
    assert fingerprint("See below.") not in page_blocks(body).fingerprints
    assert [(b.kind, b.text) for s in sections(out) for b in s.blocks] == [
        ("text", "See below."),
        ("item", "- Read the frob FAQ"),
        ("text", "B"),
    ]


# Through the ingest: on the in-memory fake and embedded Chroma, with and without the parse memo.


@pytest.fixture(params=["no memo", "memo"])
def memo_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path | None:
    return tmp_path / "data" / "parse-memo.json" if request.param == "memo" else None


def ingest(index: Index, kb: Path, memo_file: Path | None, *paths: Path) -> IngestReport:
    return Ingestor(index, HashEmbedder(), Chunker(200, 30), memo_file=memo_file).ingest_paths(list(paths) or [kb], kb)


def texts(index: Index) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    for chunk in sorted(index.chunks(), key=lambda c: c.chunk_id):
        out.setdefault(chunk.source_id, []).append(chunk.text)
    return {source: "\n".join(parts) for source, parts in out.items()}


def clean(kb: Path) -> list[dict[str, object]]:
    """What a fresh ingest of the folder as it is now stores (Chroma gives back no embedded text)."""
    fresh = InMemoryIndex()
    ingest(fresh, kb, None)
    return stored(fresh)


def stored(index: Index) -> list[dict[str, object]]:
    return sorted((c.model_dump(exclude={"embed_text"}) for c in index.chunks()), key=lambda c: str(c["chunk_id"]))


def counts(report: IngestReport) -> tuple[int, int, int, int]:
    return report.added, report.updated, report.deleted, report.unchanged


def test_a_page_that_makes_a_block_boilerplate_and_its_removal_rewrite_just_the_pages_concerned(
    index: Index, tmp_path: Path, memo_file: Path | None
) -> None:
    kb = tmp_path / "kb"
    # The footer on two pages of three: content by the rule (not half the folder on three pages).
    pages = {n: man_page(n, s) for n, s in SUMMARIES.items() if n != "frob-prune"}
    pages["frob-mount"] = man_page("frob-mount", SUMMARIES["frob-mount"], footer="")
    write_pages(kb, pages)
    ingest(index, kb, memo_file)
    assert all(FOOTER_TEXT in texts(index)[f"doc:{n}"] for n in ("frob-init", "frob-save"))

    write_pages(kb, {"frob-prune": man_page("frob-prune", SUMMARIES["frob-prune"])})
    added = ingest(index, kb, memo_file)

    assert counts(added) == (1, 2, 0, 1)  # frob-prune new, init and save lose the footer, mount untouched
    assert not any("suite" in text for text in texts(index).values())
    assert stored(index) == clean(kb)
    assert counts(ingest(index, kb, memo_file)) == (0, 0, 0, 4)

    (kb / "frob-prune.html").unlink()
    removed = ingest(index, kb, memo_file)

    assert counts(removed) == (0, 2, 1, 1)
    assert all(FOOTER_TEXT in texts(index)[f"doc:{n}"] for n in ("frob-init", "frob-save"))
    assert stored(index) == clean(kb)


def test_ingesting_one_page_after_its_folder_writes_nothing(
    index: Index, tmp_path: Path, memo_file: Path | None
) -> None:
    kb = tmp_path / "kb"
    write_pages(kb / "man", {n: man_page(n, s) for n, s in SUMMARIES.items()})
    ingest(index, kb, memo_file)

    again = ingest(index, kb, memo_file, kb / "man" / "frob-save.html")

    assert counts(again) == (0, 0, 0, 1)
    assert stored(index) == clean(kb)


def test_the_ingest_report_says_which_pages_lost_boilerplate_also_when_unchanged(
    index: Index, tmp_path: Path, memo_file: Path | None
) -> None:
    kb = tmp_path / "kb"
    pages = {n: man_page(n, s) for n, s in SUMMARIES.items()}
    pages["frob-mount"] = man_page("frob-mount", SUMMARIES["frob-mount"], footer="")
    write_pages(kb / "man", pages)

    for report in (ingest(index, kb, memo_file), ingest(index, kb, memo_file)):  # first, then unchanged
        notes = {f.path: [n for n in f.inferred if n.startswith("boilerplate:")] for f in report.files}
        assert notes["man/frob-mount.html"] == []  # it has no footer to lose
        for name in ("frob-init", "frob-save", "frob-prune"):
            assert notes[f"man/{name}.html"] == ["boilerplate: 1 block repeated on most pages of its folder left out"]


MENU = "<ul><li><a href='index.html'>Home</a></li><li><a href='docs.html'>Docs</a></li><li>Download</li>" + (
    "<li>Support</li></ul>"
)


def test_a_menu_of_one_word_links_on_every_page_is_taken_out(tmp_path: Path) -> None:
    # A site's menu outside <nav> (SQLite's pages): each link alone is a label, the whole list repeated is chrome.
    write_pages(tmp_path, {n: man_page(n, s, extra=MENU) for n, s in SUMMARIES.items()})

    for name, summary in SUMMARIES.items():
        body = docs(tmp_path)[f"doc:{name}"].body
        assert not any(word in body for word in ("Home", "Download", "Support"))
        assert f"`{name}` is how you {summary}" in body


def test_a_short_list_on_a_few_pages_or_different_on_each_stays(tmp_path: Path) -> None:
    pages = {n: man_page(n, s, extra=MENU if n == "frob-save" else "") for n, s in SUMMARIES.items()}
    pages["frob-mount"] = man_page("frob-mount", SUMMARIES["frob-mount"], extra="<ul><li>FUSE</li><li>NFS</li></ul>")
    pages["frob-init"] = man_page(
        "frob-init", SUMMARIES["frob-init"], extra="<ul><li>ext4</li><li>xfs</li><li>btrfs</li></ul>"
    )
    write_pages(tmp_path, pages)

    found = docs(tmp_path)

    assert "- Download" in found["doc:frob-save"].body
    assert "- NFS" in found["doc:frob-mount"].body
    assert "- btrfs" in found["doc:frob-init"].body


def test_two_items_are_not_a_menu_and_a_page_that_is_only_its_menu_keeps_it() -> None:
    two = "# Links\n\n- Home\n- Support\n"
    assert page_blocks(two).fingerprints == frozenset()

    menu_only = "- Home\n- Docs\n- Support\n"
    page = page_blocks(menu_only)
    assert len(page.fingerprints) == 1 and not page.solid
    assert applied(page, page.fingerprints) == frozenset()  # all it has: kept, so it is still indexed

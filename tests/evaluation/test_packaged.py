"""Packaged data sets: AIA-BDE's tagged lines become StackFAQ rows, read from an installed distribution.

The FAQ text below is invented for these tests, in AIA-BDE's line format (no text from the real corpus). The one
test on the real corpus reads it where its package is installed and is skipped when it is not.
"""

from __future__ import annotations

import json
from dataclasses import replace
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

from deflect.errors import ConfigError, ValidationFailed
from deflect.evaluation.datasets import ADAPTERS, load_dataset
from deflect.evaluation.packaged import PACKAGED, materialize, packaged_file, parse_aia_bde

FIXTURE = """S:Billing
SS:01_invoices
SSS:011_downloads.txt
P:How do I download an invoice?
VG1:How can I download a bill?
VG2:How can one download a bill?
VUC:where do i get my invoice pdf
VIN:Is there a way to download invoices?
R:Open Billing, pick the month and press Download.
SSS:012_vat.txt
P:Can I add a VAT number to past invoices?
VG1:Can I put a VAT number on old invoices?
VUC:vat number on an old invoice
VMT:add tax id to invoices already issued
VIN:Is it possible to put my VAT number on invoices from before?
R:Only invoices from the current month can be reissued with a VAT number.

SS:02_account
SSS:021_close.txt
P:How do I close my account?
VG1:How do I shut my account?
VG2:How do I shut down my account?
R:Ask the account owner to delete the workspace in Settings.
S:Other desk
SS:01_invoices
SSS:011_downloads.txt
P:How do I download an invoice ?
VUC:download invoice
VUC:where do i get my invoice pdf
R:Use the Download button next to each month.
"""


def test_questions_answers_and_only_the_variants_people_wrote() -> None:
    rows = parse_aia_bde(FIXTURE)

    vat = rows[1]
    assert vat["thread"] == "aia0001"
    assert vat["question"] == "Can I add a VAT number to past invoices?"
    assert vat["answers"] == ["Only invoices from the current month can be reissued with a VAT number."]
    # VUC, VIN and VMT were written by people; VG1/VG2 are machine round trips and are never asked.
    assert vat["paraphrases"] == [
        "vat number on an old invoice",
        "add tax id to invoices already issued",
        "Is it possible to put my VAT number on invoices from before?",
    ]
    assert vat["paraphrase_tags"] == ["written_by:vuc", "written_by:vmt", "written_by:vin"]
    close = rows[2]
    assert close["paraphrases"] == []  # in the KB as a distractor, asks nothing
    assert close["answers"] == ["Ask the account owner to delete the workspace in Settings."]


def test_the_same_question_under_two_sections_is_one_thread() -> None:
    rows = parse_aia_bde(FIXTURE)

    assert [r["thread"] for r in rows] == ["aia0000", "aia0001", "aia0002"]
    invoice = rows[0]
    assert invoice["question"] == "How do I download an invoice?"  # the first wording
    assert invoice["answers"] == [
        "Open Billing, pick the month and press Download.",
        "Use the Download button next to each month.",
    ]
    assert invoice["paraphrases"] == [
        "where do i get my invoice pdf",
        "Is there a way to download invoices?",
        "download invoice",
    ]
    # The repeated reformulation keeps the writer it was first seen with; the list stays parallel.
    assert invoice["paraphrase_tags"] == ["written_by:vuc", "written_by:vin", "written_by:vuc"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("P:Question?\nXYZ:what is this\n", "line 2: unknown tag 'XYZ'"), ("VUC:orphan variant\n", "before any question")],
)
def test_malformed_lines_are_reported_with_their_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_aia_bde(text)


def fake_distribution(site: Path, name: str, version: str, files: dict[str, str]) -> None:
    """An installed distribution as importlib.metadata finds it: a dist-info folder and its files."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"  # the normalised name, as pip writes it
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    for rel, text in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text, encoding="utf-8")


# The real entry with its distribution, version and file swapped for a fake one (same parser).
SPEC = replace(
    PACKAGED["aia-bde"],
    name="fixture-faq",
    distribution="deflect-fixture-faq",
    version="1.2",
    path="fixture_faq/faq.txt",
    install="pip install deflect-fixture-faq==1.2",
)


def install_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """SPEC installed on sys.path with FIXTURE as its data file, and known by name; returns the site folder."""
    site = tmp_path / "site"
    fake_distribution(site, SPEC.distribution, SPEC.version, {SPEC.path: FIXTURE})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setitem(PACKAGED, SPEC.name, SPEC)
    return site


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return install_fixture(tmp_path, monkeypatch)


def test_materialize_writes_a_stackfaq_file_the_dataset_protocol_reads(installed: Path, tmp_path: Path) -> None:
    path = materialize(SPEC.name, tmp_path / "work")

    assert path.parent == tmp_path / "work"
    assert not path.is_relative_to(installed)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert rows == parse_aia_bde(FIXTURE)
    split = load_dataset(path, ADAPTERS["stackfaq"], holdout_fraction=0.34)
    assert len(split.held_out) == 1
    assert len(split.escalations) == 2
    assert {t for c in split.cases for t in c.tags if t.startswith("written_by:")} == {
        "written_by:vuc",
        "written_by:vin",
        "written_by:vmt",
    }
    assert sum(c.should_escalate for c in split.cases) == len(
        next(r["paraphrases"] for r in rows if r["thread"] in split.held_out)
    )


def test_an_absent_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(PACKAGED, SPEC.name, SPEC)  # never installed: no dist-info on the path

    with pytest.raises(ConfigError, match=r"not installed: pip install deflect-fixture-faq==1\.2"):
        materialize(SPEC.name, tmp_path)
    assert not list(tmp_path.iterdir())


def test_another_version_is_refused_since_the_split_is_defined_on_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    fake_distribution(site, SPEC.distribution, "2.0", {SPEC.path: FIXTURE})
    monkeypatch.syspath_prepend(str(site))

    with pytest.raises(ConfigError, match=r"defined on deflect-fixture-faq 1\.2, installed is 2\.0"):
        packaged_file(SPEC)


def test_an_installed_package_without_the_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    fake_distribution(site, SPEC.distribution, SPEC.version, {"fixture_faq/other.txt": "x"})
    monkeypatch.syspath_prepend(str(site))

    with pytest.raises(ConfigError, match="has no fixture_faq/faq.txt"):
        packaged_file(SPEC)


def test_an_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="known: aia-bde"):
        materialize("no-such-faq", tmp_path)


def test_the_real_aia_bde_as_installed() -> None:
    """Shape only, read where the package is installed; skipped when it is not."""
    spec = PACKAGED["aia-bde"]
    try:
        distribution(spec.distribution)
    except PackageNotFoundError:
        pytest.skip(f"{spec.distribution} is not installed ({spec.install})")

    rows = parse_aia_bde(packaged_file(spec).read_text(encoding="utf-8"))

    assert len(rows) > 800
    assert len({r["thread"] for r in rows}) == len(rows)
    assert all(r["question"] and r["answers"] for r in rows)
    assert sum(len(r["paraphrases"]) for r in rows) > 3000

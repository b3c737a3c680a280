"""load_dataset: StackFAQ-style threads become escalations and golden cases; held-out threads escalate.

The threads below are invented for these tests (no text from the real dataset).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from deflect.domain.models import Audience
from deflect.errors import ConfigError
from deflect.evaluation.datasets import ADAPTERS, held_out, load_dataset

THREADS = [
    {
        "thread": "tq01",
        "question": "How can I mute a noisy channel in the team chat?",
        "answers": ["Open the channel menu and pick Mute.", "You can also mute from the sidebar."],
        "paraphrases": ["stop notifications from one chat channel", "silence a busy channel"],
    },
    {
        "thread": "tq02",
        "question": "Why does my calendar show events an hour late?",
        "answers": ["Your calendar time zone differs from the device time zone; align them in Settings."],
        "paraphrases": [
            "calendar entries shifted by one hour",
            "meetings appear at the wrong time",
            "timezone mismatch in calendar",
        ],
    },
    {
        "thread": "tq03",
        "question": "Can I recover a note I deleted yesterday?",
        "answers": ["Deleted notes stay in the Trash for 30 days; restore from there."],
        "paraphrases": ["undo deleting a note"],
    },
    {
        "thread": "tq04",
        "question": "How do I share a photo album with someone without an account?",
        "answers": ["Create a public link from the album's Share button."],
        "paraphrases": ["give album access to a person with no login", "send a link to my photo album"],
    },
    {
        "thread": "tq05",
        "question": "Is there a keyboard shortcut to archive an email?",
        "answers": ["Press E to archive the selected conversation.", "Shortcuts must be enabled first."],
        "paraphrases": ["archive mail with one key", "hotkey for archiving messages"],
    },
]
ADAPTER = ADAPTERS["stackfaq"]


def write(tmp_path: Path, rows: Sequence[Mapping[str, object]], name: str = "threads.jsonl") -> Path:
    path = tmp_path / name
    # A trailing blank line, as editors leave, must be ignored.
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n", encoding="utf-8")
    return path


def test_without_holdout_every_thread_becomes_an_escalation_record(tmp_path: Path) -> None:
    split = load_dataset(write(tmp_path, THREADS), ADAPTER)

    assert split.held_out == []
    assert [e["id"] for e in split.escalations] == ["tq01", "tq02", "tq03", "tq04", "tq05"]
    first = split.escalations[0]
    assert first["question"] == first["subject"] == THREADS[0]["question"]
    assert first["resolution"] == ("Open the channel menu and pick Mute.\n\nYou can also mute from the sidebar.")
    assert first["audience"] == "internal"


def test_paraphrases_become_cases_expecting_their_thread(tmp_path: Path) -> None:
    split = load_dataset(write(tmp_path, THREADS), ADAPTER)

    assert len(split.cases) == 2 + 3 + 1 + 2 + 2
    by_question = {c.question: c for c in split.cases}
    case = by_question["meetings appear at the wrong time"]
    assert case.expected_sources == ["esc:tq02"]
    assert case.should_escalate is False
    assert case.audience is Audience.AGENT
    assert "thread:tq02" in case.tags
    assert len({c.id for c in split.cases}) == len(split.cases)


def test_held_out_threads_stay_out_of_the_kb_and_their_paraphrases_escalate(tmp_path: Path) -> None:
    split = load_dataset(write(tmp_path, THREADS), ADAPTER, holdout_fraction=0.4)

    hidden = set(split.held_out)
    assert len(hidden) == 2  # round(5 * 0.4)
    assert hidden.isdisjoint(e["id"] for e in split.escalations)
    assert len(split.escalations) == 3
    for case in split.cases:
        thread = next(t.removeprefix("thread:") for t in case.tags if t.startswith("thread:"))
        if thread in hidden:
            assert case.should_escalate and case.expected_sources == [] and "held_out" in case.tags
        else:
            assert not case.should_escalate and case.expected_sources == [f"esc:{thread}"]


def test_the_held_out_set_is_stable_across_loads_and_file_order(tmp_path: Path) -> None:
    forward = load_dataset(write(tmp_path, THREADS, "a.jsonl"), ADAPTER, holdout_fraction=0.4)
    again = load_dataset(write(tmp_path, THREADS, "a.jsonl"), ADAPTER, holdout_fraction=0.4)
    backward = load_dataset(write(tmp_path, THREADS[::-1], "b.jsonl"), ADAPTER, holdout_fraction=0.4)

    assert forward.held_out == again.held_out == backward.held_out


def test_held_out_is_independent_of_input_order() -> None:
    ids = [f"thread-{i:03d}" for i in range(40)]
    shuffled = ids[:]
    random.Random(5).shuffle(shuffled)

    assert held_out(ids, 0.25) == held_out(ids[::-1], 0.25) == held_out(shuffled, 0.25)
    assert len(held_out(ids, 0.25)) == 10


@pytest.mark.parametrize(("smaller", "larger"), [(0.0, 0.1), (0.1, 0.3), (0.3, 1.0)])
def test_a_larger_fraction_holds_out_a_superset(smaller: float, larger: float) -> None:
    ids = [f"thread-{i:03d}" for i in range(40)]

    assert held_out(ids, smaller) <= held_out(ids, larger)


def test_held_out_extremes() -> None:
    ids = ["a", "b", "c"]

    assert held_out(ids, 0.0) == set()
    assert held_out(ids, 1.0) == set(ids)


def test_paraphrase_tags_when_given_tag_each_case(tmp_path: Path) -> None:
    rows = [{**THREADS[1], "paraphrase_tags": ["by:staff", "by:crowd", ""]}, THREADS[2]]

    split = load_dataset(write(tmp_path, rows), ADAPTER)

    tags = {c.question: c.tags for c in split.cases}
    assert "by:staff" in tags["calendar entries shifted by one hour"]
    assert "by:crowd" in tags["meetings appear at the wrong time"]
    assert tags["timezone mismatch in calendar"] == ["indexed", "thread:tq02"]  # an empty tag adds none
    assert tags["undo deleting a note"] == ["indexed", "thread:tq03"]  # a row without the field


def test_paraphrase_tags_must_pair_with_the_paraphrases(tmp_path: Path) -> None:
    rows = [{**THREADS[1], "paraphrase_tags": ["by:staff"]}]

    with pytest.raises(ConfigError, match="thread tq02 has 1 paraphrase tags, 3 paraphrases"):
        load_dataset(write(tmp_path, rows), ADAPTER)

"""One process per embedded index folder: a second process is refused by name, never let in to corrupt it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deflect.errors import IndexInUse, IndexUnavailable
from deflect.index.chroma import ChromaIndex
from deflect.index.owner import LOCK_FILE, claim, release

HOLDER = """
import sys, time
from pathlib import Path
from deflect.index.owner import claim
claim(Path(sys.argv[1]))
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture
def held_elsewhere(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """`tmp_path / "chroma"` held by another live process."""
    folder = tmp_path / "chroma"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    yield folder, proc
    proc.kill()
    proc.wait()
    proc.stdout.close()


def test_a_process_may_open_its_own_folder_again(tmp_path: Path) -> None:
    claim(tmp_path / "chroma")
    claim(tmp_path / "chroma")  # the eval's second service, drop_embedded: the same process

    assert (tmp_path / "chroma" / LOCK_FILE).read_text().strip() == str(os.getpid())


def test_another_process_is_refused_and_told_who_holds_the_folder(
    held_elsewhere: tuple[Path, subprocess.Popen[str]],
) -> None:
    folder, holder = held_elsewhere

    with pytest.raises(IndexInUse) as refused:
        claim(folder)

    assert f"pid {holder.pid}" in refused.value.message
    assert refused.value.details == [{"folder": str(folder.resolve()), "pid": str(holder.pid)}]
    assert isinstance(refused.value, IndexUnavailable) and refused.value.code == "index_in_use"


def test_opening_embedded_chroma_is_refused_before_chroma_touches_the_folder(
    held_elsewhere: tuple[Path, subprocess.Popen[str]],
) -> None:
    folder, _ = held_elsewhere

    with pytest.raises(IndexInUse):
        ChromaIndex.embedded(folder, "deflect", 64)
    with pytest.raises(IndexInUse):
        ChromaIndex.drop_embedded(folder, "deflect")

    assert sorted(p.name for p in folder.iterdir()) == [LOCK_FILE]  # no chroma.sqlite3: nothing was opened


def test_a_killed_holder_leaves_no_stale_lock(held_elsewhere: tuple[Path, subprocess.Popen[str]]) -> None:
    folder, holder = held_elsewhere
    holder.send_signal(signal.SIGKILL)
    holder.wait()

    claim(folder)  # the kernel dropped the dead process's lock

    assert (folder / LOCK_FILE).read_text().strip() == str(os.getpid())


def test_a_released_folder_can_be_claimed_by_another_process(tmp_path: Path) -> None:
    folder = tmp_path / "chroma"
    claim(folder)
    release(folder)
    release(folder)  # not held any more: nothing to do

    other = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "held"
        with pytest.raises(IndexInUse):
            claim(folder)  # now the other process holds it
    finally:
        other.kill()
        other.wait()
        if other.stdout is not None:
            other.stdout.close()

"""One process per embedded Chroma folder.

Chroma 1.5's embedded client is not safe for two processes on one folder: each keeps its own HNSW segment in memory
and flushes it over the other's. Measured here (session 7): two `deflect eval` runs that shared a `--work` folder
left a vector segment that makes every later open of that folder die with SIGSEGV in Chroma's loader (on `count`
and `get`, before any Python error can be raised); upstream reports the same crash class (chroma-core/chroma
#7069, #7238, #6949). So the first process to open a folder takes an exclusive advisory lock on a file in it, held
until the process ends (the kernel releases it on any exit, kill -9 included: no stale locks), and any other
process is refused with an error that names the holder. Within one process the folder may be opened again (the
eval's two services, `drop_embedded`): Chroma shares one client per path in a process.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from deflect.errors import IndexInUse

LOCK_FILE = "deflect.lock"
_held: dict[Path, int] = {}
_guard = threading.Lock()


def claim(folder: Path) -> None:
    """Hold `folder` for this process, or raise IndexInUse when another live process holds it."""
    folder = folder.resolve()
    with _guard:
        if folder in _held:
            return
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            os.close(fd)
            raise IndexInUse(
                f"the index in {folder} is open in another process (pid {holder or 'unknown'}); embedded Chroma "
                "allows one process per folder: stop it, or while `deflect serve` runs hand work to it (`deflect "
                "ingest` does), or use a Chroma server (DEFLECT_CHROMA_MODE=http)",
                [{"folder": str(folder), "pid": holder}],
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        _held[folder] = fd


def release(folder: Path) -> None:
    """Give up this process's hold on `folder`, once its Chroma client is closed, so another process may claim it
    (a benchmark hands its folder to the `deflect serve` it starts); nothing when this process does not hold it."""
    folder = folder.resolve()
    with _guard:
        fd = _held.pop(folder, None)
    if fd is not None:
        os.close(fd)  # the flock goes with the last descriptor of the open file

"""Fewer garbage-collector passes while pages are parsed.

Parsing an HTML page builds a BeautifulSoup tree of tens of thousands of objects linked both ways, so it is garbage
only the cycle collector frees, and each page set off many collections of the oldest generation, each walking every
object of the process (the model, torch, Chroma: ~480,000 before a page is read). Measured on 65 pages of the Python
manual with the model loaded (session 20): parsing took 9.5-10.9 s as is and 7.6-7.7 s with what was alive before
the parse frozen out of the collector's walks and collections run less often; peak memory 506 -> 511-528 MB.
Process-wide settings, so nested or concurrent parses share one pause and the last to finish restores them.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_THRESHOLDS = (20_000, 10, 10)
_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Within: objects alive at entry are not walked by the collector, and it runs less often. Restored at exit
    (frozen objects go back to the oldest generation, so garbage among them is still freed later)."""
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(*_THRESHOLDS)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                gc.set_threshold(*_saved)
                gc.unfreeze()

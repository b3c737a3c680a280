"""ChromaIndex beyond the Index contract: one collection per audience, and an index from before that split."""

from __future__ import annotations

from pathlib import Path

import chromadb
from chromadb.config import Settings as ChromaSettings

from deflect.index.chroma import ChromaIndex, _to_metadata, collection_names
from deflect.testing.contracts import EVERYONE, PUBLIC, make_chunk, unit


def test_each_audience_has_its_own_collection(tmp_path: Path) -> None:
    index = ChromaIndex.embedded(tmp_path, "kbase", 64)
    index.upsert([make_chunk("pub#0"), make_chunk("secret#0", "internal")], [unit(1.0), unit(1.0, 0.1)])

    client = chromadb.PersistentClient(path=str(tmp_path), settings=ChromaSettings(anonymized_telemetry=False))
    names = collection_names("kbase")
    assert client.get_collection(names["public"]).get()["ids"] == ["pub#0"]
    assert client.get_collection(names["internal"]).get()["ids"] == ["secret#0"]


def test_an_index_from_before_the_split_has_its_internal_chunks_moved_out_at_open(tmp_path: Path) -> None:
    # The former layout: every chunk in the one configured collection, audience in the metadata only.
    client = chromadb.PersistentClient(path=str(tmp_path), settings=ChromaSettings(anonymized_telemetry=False))
    legacy = client.get_or_create_collection(
        "kbase", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    chunks = [make_chunk(f"pub#{i}") for i in range(3)] + [make_chunk(f"secret#{i}", "internal") for i in range(2)]
    vectors = [unit(1.0, i / 10) for i in range(5)]
    legacy.upsert(
        ids=[c.chunk_id for c in chunks],
        embeddings=vectors,
        documents=[c.text for c in chunks],
        metadatas=[_to_metadata(c) for c in chunks],
    )

    index = ChromaIndex(client, "kbase", 64)

    assert index.count() == 5
    assert {h.chunk.chunk_id for h in index.query(unit(1.0), k=10, audiences=PUBLIC)} == {"pub#0", "pub#1", "pub#2"}
    secret = [h for h in index.query(unit(1.0), k=10, audiences=EVERYONE) if h.chunk.chunk_id == "secret#1"]
    assert secret and abs(secret[0].dense - 1.0 / (1 + 0.4**2) ** 0.5) < 1e-4  # moved with its own vector
    assert sorted(legacy.get()["ids"]) == ["pub#0", "pub#1", "pub#2"]


def test_the_configured_ef_search_applies_to_a_collection_made_under_another(tmp_path: Path) -> None:
    ChromaIndex.embedded(tmp_path, "kbase", 64).upsert([make_chunk("pub#0")], [unit(1.0)])

    ChromaIndex.embedded(tmp_path, "kbase", 200)

    client = chromadb.PersistentClient(path=str(tmp_path), settings=ChromaSettings(anonymized_telemetry=False))
    for name in collection_names("kbase").values():
        assert client.get_collection(name).configuration["hnsw"]["ef_search"] == 200

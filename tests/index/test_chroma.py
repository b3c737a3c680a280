"""ChromaIndex beyond the Index contract: one collection per audience, and an index from before that split."""

from __future__ import annotations

from pathlib import Path

import chromadb
from chromadb.config import Settings as ChromaSettings

from deflect.domain.models import Chunk
from deflect.index.chroma import TEXT, ChromaIndex, _to_metadata, collection_names
from deflect.testing.contracts import EVERYONE, PUBLIC, make_chunk, unit


def as_read(chunk: Chunk) -> Chunk:
    """A chunk as the index gives it back: what was embedded is not kept."""
    return chunk.model_copy(update={"embed_text": ""})


def legacy_metadata(chunk: Chunk) -> dict[str, object]:
    """A chunk's metadata as indexes written before session 25 hold it: the text was Chroma's document."""
    return {k: v for k, v in _to_metadata(chunk).items() if k != TEXT}


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
    # ...and each chunk's text as Chroma's document, as every index written before session 25 holds it.
    legacy.upsert(
        ids=[c.chunk_id for c in chunks],
        embeddings=vectors,
        documents=[c.text for c in chunks],
        metadatas=[legacy_metadata(c) for c in chunks],
    )

    index = ChromaIndex(client, "kbase", 64)

    assert index.count() == 5
    assert {h.chunk.chunk_id for h in index.query(unit(1.0), k=10, audiences=PUBLIC)} == {"pub#0", "pub#1", "pub#2"}
    secret = [h for h in index.query(unit(1.0), k=10, audiences=EVERYONE) if h.chunk.chunk_id == "secret#1"]
    assert secret and abs(secret[0].dense - 1.0 / (1 + 0.4**2) ** 0.5) < 1e-4  # moved with its own vector
    assert sorted(legacy.get()["ids"]) == ["pub#0", "pub#1", "pub#2"]
    assert sorted(index.chunks(), key=lambda c: c.chunk_id) == sorted(map(as_read, chunks), key=lambda c: c.chunk_id)


def test_a_chunk_text_is_metadata_not_a_chroma_document(tmp_path: Path) -> None:
    # Chroma keeps a full-text index of documents that deflect never searches; it was most of a write's cost.
    index = ChromaIndex.embedded(tmp_path, "kbase", 64)
    chunk = make_chunk("pub#0", text="Invoices are emailed on the 1st.")
    index.upsert([chunk], [unit(1.0)])

    client = chromadb.PersistentClient(path=str(tmp_path), settings=ChromaSettings(anonymized_telemetry=False))
    stored = client.get_collection(collection_names("kbase")["public"]).get(include=["documents", "metadatas"])
    assert stored["documents"] == [None]
    assert stored["metadatas"][0][TEXT] == "Invoices are emailed on the 1st."
    assert index.chunks(chunk_ids={"pub#0"}) == [as_read(chunk)]
    assert index.query(unit(1.0), k=1, audiences=PUBLIC)[0].chunk == as_read(chunk)


def test_a_chunk_written_before_as_a_document_reads_its_new_text_once_rewritten(tmp_path: Path) -> None:
    index = ChromaIndex.embedded(tmp_path, "kbase", 64)
    old = make_chunk("pub#0", text="Old text.")
    col = chromadb.PersistentClient(path=str(tmp_path), settings=ChromaSettings(anonymized_telemetry=False))
    public = col.get_collection(collection_names("kbase")["public"])
    public.upsert(
        ids=["pub#0"],
        embeddings=[unit(1.0)],
        documents=[old.text],
        metadatas=[legacy_metadata(old)],
    )
    assert index.chunks() == [as_read(old)]

    new = make_chunk("pub#0", text="New text.")
    index.upsert([new], [unit(1.0)])  # Chroma keeps the old document beside: the metadata's text is the one read

    assert index.chunks() == [as_read(new)]


def test_the_configured_ef_search_applies_to_a_collection_made_under_another(tmp_path: Path) -> None:
    ChromaIndex.embedded(tmp_path, "kbase", 64).upsert([make_chunk("pub#0")], [unit(1.0)])

    ChromaIndex.embedded(tmp_path, "kbase", 200)

    client = chromadb.PersistentClient(path=str(tmp_path), settings=ChromaSettings(anonymized_telemetry=False))
    for name in collection_names("kbase").values():
        assert client.get_collection(name).configuration["hnsw"]["ef_search"] == 200

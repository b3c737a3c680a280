"""Build the domain objects answer generators read, without going through ingestion."""

from __future__ import annotations

from deflect.domain.models import Chunk, ScoredChunk, SourceHit

# One sentence of a manual around two code blocks, "... says: <code> instead of the usual: <code>", which a chunk
# boundary can cut before "instead".
LEDGER_SAYS = """Ledger pages are counted only when asked for. After `--pages-as-ledger=yes` is set, the report is \
mostly unchanged. Its first line now says:

```
(page ledger) entries, --ledger-fns, etc.
```"""
LEDGER_INSTEAD = """instead of the usual:

```
(entry ledger) entries, --ledger-fns, etc.
```

The entries listed may be harder to read, but the report now counts every ledger page."""


def chunk(source_id: str, n: int, text: str, quote_from: int = 0, kind: str = "article", heading: str = "") -> Chunk:
    """A chunk `<source_id>#<n>` holding `text`, in the section `heading`."""
    return Chunk(
        chunk_id=f"{source_id}#{n}",
        source_id=source_id,
        kind=kind,  # type: ignore[arg-type]
        title=f"Title of {source_id}",
        heading_path=heading,
        url=f"https://help.example/{source_id}",
        audience="public",
        text=text,
        quote_from=quote_from,
        origin=f"{source_id}.md",
        source_hash="hash",
        source_chunks=1,
    )


def source(
    source_id: str, *texts: str, score: float = 1.0, kind: str = "article", headings: tuple[str, ...] = ()
) -> SourceHit:
    """A ranked source whose chunks hold `texts` (in sections `headings`, if given), best first."""
    chunks = [
        ScoredChunk(
            chunk=chunk(source_id, i, t, kind=kind, heading=headings[i] if i < len(headings) else ""),
            dense=score,
            score=score,
        )
        for i, t in enumerate(texts)
    ]
    return SourceHit(
        source_id=source_id,
        title=f"Title of {source_id}",
        url=f"https://help.example/{source_id}",
        kind=kind,
        score=score,
        dense=score,
        chunks=chunks,
    )


def source_of(*chunks: Chunk, score: float = 1.0) -> SourceHit:
    """A ranked source made of prepared chunks (all from one source)."""
    first = chunks[0]
    scored = [ScoredChunk(chunk=c, dense=score, score=score) for c in chunks]
    return SourceHit(
        source_id=first.source_id,
        title=first.title,
        url=first.url,
        kind=first.kind,
        score=score,
        dense=score,
        chunks=scored,
    )

"""Incremental, idempotent ingestion: only changed sources are embedded; stale chunks and deleted sources go.

The index itself is the manifest (each chunk carries its source's content hash and chunk count), so there is
no second store to drift out of step. Order of writes per source: upsert the new chunks, then delete the ones
no longer produced. A crash in between leaves old and new chunks with mixed hashes, which the next run sees as
"changed" and repairs; nothing already indexed is lost by a crash or by a broken file.

With a parse memo (memo.py), a file whose bytes are those of an earlier ingest is not parsed: its sources arrive as
KnownSource (id and content hash only) and go through the same check against the index; one the index does not hold
whole with that hash is parsed from its file then, so the memo saves parsing, never a write.

Chunks are written a group of sources at a time (the group embedded together, see _embedded): one write to the
vector index, then one to the keyword index, then the group's anchors, then each source's stale chunks deleted.
The keyword index holds each chunk in a row of its own, written in the same step as the vector index. The vector index
stays the manifest: each run puts back in the keyword index what it lacks of the vector index's chunks (a crash
between the two writes, a keyword index that was deleted) and removes what the vector index no longer has.

Anchors (an article's links to other pages, deflect.ingest.links) are written per group of sources right after
the group's chunks (one write per audience: AnchorIndex.replace_many), each sentence's vector pooled from the pass
that embeds the chunk holding it (spans.py): a source written now gets its anchors replaced;
an unchanged one keeps its own, unless the anchor index does not
hold them at the source's hash (a crash between the two writes, an index from before anchors), when they are
written from its file, only its chunks that hold a link's sentence embedded again. A source deleted loses its
anchors, as does any linking source the vector index no longer holds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from deflect.domain.models import Anchor, Chunk, FileReport, IngestReport, SourceDoc
from deflect.domain.ports import AnchorIndex, Embedder, Index, KeywordIndex
from deflect.errors import SourceError
from deflect.ingest.chunking import Chunker
from deflect.ingest.links import without_navigation
from deflect.ingest.memo import ParseMemo
from deflect.ingest.rules import load_rules
from deflect.ingest.sources import (
    KnownSource,
    NotAnArticle,
    ParsedSources,
    outside_root,
    parse_file,
    parse_paths,
    without,
)
from deflect.ingest.spans import embed_with_sentences

Progress = Callable[[int, int], None]
# Chunks embedded in one call at ingest (see _embedded); the embedder still runs the model in its own batch size.
EMBED_GROUP = 256
# Unchanged sources whose anchors are written in one call of the embedder (see Ingestor._write_anchors).
ANCHOR_GROUP = 256


@dataclass
class _Indexed:
    hashes: set[str] = field(default_factory=set)
    expected: int = 0
    chunk_ids: set[str] = field(default_factory=set)
    origin: str = ""
    origin_root: str = ""
    chunks: list[Chunk] = field(default_factory=list)


def ingest_signature(chunker_signature: str, embedder_name: str) -> str:
    """What every content hash folds in: a change of chunking or of model re-chunks and re-embeds every source."""
    return f"{chunker_signature}|{embedder_name}"


class Ingestor:
    """Brings the index in line with a set of knowledge files."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        chunker: Chunker,
        keyword: KeywordIndex | None = None,
        memo_file: Path | None = None,
        anchors: AnchorIndex | None = None,
        parse_workers: int = 1,
    ) -> None:
        self._index = index
        self._parse_workers = parse_workers
        self._keyword = keyword
        self._anchors = anchors
        self._embedder = embedder
        self._chunker = chunker
        self._memo_file = memo_file
        self.signature = ingest_signature(chunker.signature, embedder.name)

    def ingest_paths(self, paths: Sequence[Path], root: Path, progress: Progress | None = None) -> IngestReport:
        """Ingest files/folders; sources are named relative to `root`. Prunes only within the scanned paths."""
        rules = load_rules(root)
        memo = ParseMemo(self._memo_file, root, self.signature) if self._memo_file else None
        parsed = parse_paths(paths, root, self.signature, rules, memo, self._parse_workers)
        if memo:
            memo.save()
        # A folder ingest prunes what came from under it: the kb's own files, or an outside folder's (origin_root).
        scopes = [(_scope(p, root), outside_root(p, root)) for p in paths]
        errors: list[SourceError] = []
        parsed_now: dict[str, list[SourceDoc]] = {}

        def load(known: KnownSource) -> SourceDoc | None:
            """The full source behind a KnownSource the index does not hold as remembered: its file parsed now."""
            if known.origin not in parsed_now:
                try:
                    docs, found = parse_file(known.path, known.origin, self.signature, rules)
                except SourceError as exc:
                    docs, found = [], [exc]
                except NotAnArticle:
                    docs, found = [], []  # it changed into an index since the scan: the next run skips it
                parsed_now[known.origin] = docs
                errors.extend(found)
            doc = next((d for d in parsed_now[known.origin] if d.source_id == known.source_id), None)
            if doc is not None:
                # The folder's boilerplate and navigation links, as the scan found them.
                doc = without_navigation(without(doc, known.stripped), known.navigation)
                doc = doc.model_copy(update={"origin_root": known.origin_root})
            if doc is None and not any(e.path == known.origin for e in errors):
                # The file changed between the scan and now (an edit during the ingest): the next run sees it.
                errors.append(SourceError(known.origin, f"{known.source_id} changed while being ingested"))
            return doc

        report, written = self._sync(
            [*parsed.docs, *parsed.known],
            prune=lambda origin, where: (
                any(_within(origin, s) and where == w for s, w in scopes) and origin not in parsed.damaged_origins
            ),
            progress=progress,
            load=load,
        )
        report.errors = [str(e) for e in [*parsed.errors, *errors]]
        report.files = _file_reports(parsed, written)
        return report

    def sync(
        self,
        docs: Sequence[SourceDoc],
        prune: Callable[[str, str], bool] | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Upsert changed docs; delete indexed sources that are not in `docs` and whose origin and origin_root
        `prune` accepts."""
        return self._sync(docs, prune, progress)[0]

    def _sync(
        self,
        docs: Sequence[SourceDoc | KnownSource],
        prune: Callable[[str, str], bool] | None = None,
        progress: Progress | None = None,
        load: Callable[[KnownSource], SourceDoc | None] | None = None,
    ) -> tuple[IngestReport, set[str]]:
        """sync(), also returning the ids of the sources it wrote; `load` gives the full source of a KnownSource
        that has to be written (None: it stays as indexed, and is not pruned)."""
        prune_anything = prune is not None
        # Without pruning only the given sources matter: read just their chunks, not the whole index.
        scope = None if prune_anything else {d.source_id for d in docs}
        indexed = self._indexed(scope)
        in_keyword = self._keyword.manifest(scope) if self._keyword else {}
        anchored = self._anchors.manifest(scope) if self._anchors else {}
        report = IngestReport()
        todo: list[tuple[SourceDoc, list[Chunk]]] = []
        relink: list[SourceDoc] = []  # unchanged sources whose anchors are missing or stale
        refill: list[Chunk] = []  # unchanged sources' chunks the keyword index lacks: one write, as for a group
        for doc in docs:
            have = indexed.get(doc.source_id)
            # A moved source (an escalation line now in another file, an outside folder now elsewhere) is rewritten
            # so its origin stays true.
            if (
                have
                and have.hashes == {doc.content_hash}
                and len(have.chunk_ids) == have.expected
                and have.origin == doc.origin
                and have.origin_root == doc.origin_root
            ):
                report.unchanged += 1
                if self._keyword and any(in_keyword.get(c.chunk_id) != c.source_hash for c in have.chunks):
                    refill.extend(have.chunks)  # as stored in the vector index: nothing to embed
                if self._anchors and _links_to_write(doc, anchored.get(doc.source_id, frozenset())):
                    whole = doc if isinstance(doc, SourceDoc) else load(doc) if load else None
                    if whole is not None:
                        relink.append(whole)
                continue
            full = doc if isinstance(doc, SourceDoc) else load(doc) if load else None
            if full is not None:
                todo.append((full, self._chunker.chunk(full)))
        if self._keyword and refill:
            self._keyword.upsert(refill)
        total = sum(len(chunks) for _, chunks in todo)
        done = 0
        links = {doc.source_id: anchors_of(doc) for doc, _ in todo} if self._anchors else {}
        sentences = {sid: [a.sentence for a in found] for sid, found in links.items()}
        for group in _embedded(todo, self._embedder, sentences):
            # The group's chunks in one write to each index: Chroma's cost is mostly per call (session 24, 2,000
            # chunks embedded: 6.5-6.9 s written 8 at a time, 2.6 s 64 at a time, 2.2-2.4 s 256 at a time), and
            # the keyword index commits once. Each source's stale chunks still go only after its new ones are in.
            group_chunks = [c for _, chunks, _, _ in group for c in chunks]
            self._index.upsert(group_chunks, [v for _, _, vectors, _ in group for v in vectors])
            if self._keyword:
                self._keyword.upsert(group_chunks)
            replaced: dict[str, tuple[list[Anchor], list[list[float]]]] = {}
            for doc, _, _, said in group:
                found = links.get(doc.source_id, [])
                if self._anchors and (found or doc.source_id in anchored):
                    replaced[doc.source_id] = (found, [said[a.sentence] for a in found])
            if self._anchors and replaced:
                self._anchors.replace_many(replaced)  # the group's anchors in one write per audience
            for doc, chunks, _, _ in group:
                have = indexed.get(doc.source_id)
                if have:
                    self._delete(have.chunk_ids - {c.chunk_id for c in chunks})
                    report.updated += 1
                else:
                    report.added += 1
                done += len(chunks)
                if progress:
                    progress(done, total)
        if self._anchors:
            self._write_anchors(relink, anchored)
        wanted = {d.source_id for d in docs}
        for source_id, have in indexed.items():
            if source_id not in wanted and prune is not None and prune(have.origin, have.origin_root):
                self._delete(have.chunk_ids)
                if self._anchors:
                    self._anchors.delete_sources([source_id])
                report.deleted += 1
                report.deleted_sources.append(source_id)
        if self._anchors:
            # Anchors of a source the vector index does not hold (a crash between the deletes): its page is gone.
            held = set(indexed) | {doc.source_id for doc, _ in todo}
            self._anchors.delete_sources(set(anchored) - held)
        if self._keyword:
            # Chunks only the keyword index holds (a crash between the two deletes): they would be found by keyword
            # and cited from a source that is gone.
            known = {cid for have in indexed.values() for cid in have.chunk_ids}
            written = {c.chunk_id for _, chunks in todo for c in chunks}
            self._keyword.delete_chunks(set(in_keyword) - known - written)
        report.chunks = self._index.count()
        return report, {doc.source_id for doc, _ in todo}

    def _write_anchors(self, docs: Sequence[SourceDoc], anchored: dict[str, frozenset[str]]) -> None:
        """Unchanged sources' anchors in place of the ones stored. Each distinct sentence gets the vector a first
        ingest gives it (pooled from the chunk that holds it, spans.py), so only the chunks that hold a sentence are
        embedded again, not the sources' others; ANCHOR_GROUP sources at a time."""
        assert self._anchors is not None
        rows = [(doc, anchors_of(doc)) for doc in docs]
        rows = [(doc, found) for doc, found in rows if found or doc.source_id in anchored]
        vectors: dict[str, list[float]] = {}
        for start in range(0, len(rows), ANCHOR_GROUP):
            part = rows[start : start + ANCHOR_GROUP]
            wanted: dict[str, int] = {}
            for k, (_, found) in enumerate(part):
                for anchor in found:
                    if anchor.sentence not in vectors:
                        wanted.setdefault(anchor.sentence, k)
            if not wanted:
                continue
            texts = [[c.embed_text for c in self._chunker.chunk(doc)] if found else [] for doc, found in part]
            vectors.update(embed_with_sentences(self._embedder, texts, wanted, texts_wanted=False)[1])
        if rows:
            self._anchors.replace_many(
                {doc.source_id: (found, [vectors[a.sentence] for a in found]) for doc, found in rows}
            )

    def _delete(self, chunk_ids: set[str]) -> None:
        self._index.delete_chunks(chunk_ids)
        if self._keyword:
            self._keyword.delete_chunks(chunk_ids)

    def _indexed(self, source_ids: set[str] | None = None) -> dict[str, _Indexed]:
        out: dict[str, _Indexed] = defaultdict(_Indexed)
        # The whole index is read in pages: one read of every chunk fails on large indexes.
        pages = self._index.pages() if source_ids is None else iter([self._index.chunks(source_ids=source_ids)])
        for chunk in (c for page in pages for c in page):
            entry = out[chunk.source_id]
            entry.hashes.add(chunk.source_hash)
            entry.expected = max(entry.expected, chunk.source_chunks)
            entry.chunk_ids.add(chunk.chunk_id)
            entry.origin = chunk.origin
            entry.origin_root = chunk.origin_root
            entry.chunks.append(chunk)
        return dict(out)


def anchors_of(doc: SourceDoc) -> list[Anchor]:
    """An article's anchor records: one per distinct (target, fragment, sentence), with the page's audience and hash."""
    out: dict[tuple[str, str, str], Anchor] = {}
    for link in doc.links:
        out.setdefault(
            (link.target, link.fragment, link.sentence),
            Anchor(
                source_id=doc.source_id,
                source_hash=doc.content_hash,
                audience=doc.audience,
                target=link.target,
                fragment=link.fragment,
                text=link.text,
                sentence=link.sentence,
            ),
        )
    return list(out.values())


def _links_to_write(doc: SourceDoc | KnownSource, stored: frozenset[str]) -> bool:
    """Whether an unchanged source's anchors must be written: it has links (a known source: its census says so,
    navigation aside) and the anchor index holds none at its hash, or it holds some of another hash."""
    if isinstance(doc, SourceDoc):
        has_links = bool(doc.links)
    else:
        has_links = doc.blocks is not None and bool(doc.blocks.links - doc.navigation)
    return stored != ({doc.content_hash} if has_links else frozenset())


def _embedded(
    todo: Sequence[tuple[SourceDoc, list[Chunk]]],
    embedder: Embedder,
    sentences: dict[str, list[str]] | None = None,
) -> Iterator[list[tuple[SourceDoc, list[Chunk], list[list[float]], dict[str, list[float]]]]]:
    """Each source with its chunks' vectors and the vectors of its `sentences` (by source id: its links' sentences),
    embedded EMBED_GROUP chunks at a time across sources: one call per source ran the model on tiny, badly padded
    batches for the many short pages (the encoder sorts texts by length only within one call). A group's call also
    gives the vectors of the sentences its sources bring that no earlier group did, each pooled from the pass over
    the chunk that holds it (spans.py; embedded alone when none does), so each distinct sentence costs once.
    Each group comes out whole (its sources in order, each with its vectors), to be written after it is embedded.

    The next group is embedded in a worker thread while the caller writes the current one (the model releases the
    GIL), so the index writes, anchors' among them, do not leave the cores the model runs on idle; at most one group
    is embedded ahead. Chroma's writes hold the GIL while they run (session 22: another Python thread ran at 11% of
    its pace during upserts), yet what they cost the ingest is their CPU (~12 s of a 2k ingest; the model in a worker
    process, free of the lock, was no faster): fewer, larger writes cost less."""
    sentences = sentences or {}
    groups: list[list[tuple[SourceDoc, list[Chunk]]]] = []
    size = 0
    for doc, chunks in todo:
        if not groups or size >= EMBED_GROUP:
            groups.append([])
            size = 0
        groups[-1].append((doc, chunks))
        size += len(chunks)
    seen: set[str] = set()
    new: list[dict[str, int]] = []  # per group, the sentences first met there, each with the source bringing it
    for group in groups:
        fresh: dict[str, int] = {}
        for k, (doc, _) in enumerate(group):
            for text in sentences.get(doc.source_id, []):
                if text not in seen:
                    fresh.setdefault(text, k)
        seen.update(fresh)
        new.append(fresh)

    def embed(i: int) -> tuple[list[list[float]], dict[str, list[float]]]:
        return embed_with_sentences(embedder, [[c.embed_text for c in cs] for _, cs in groups[i]], new[i])

    said: dict[str, list[float]] = {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-embed") as pool:
        ahead: Future[tuple[list[list[float]], dict[str, list[float]]]] | None = (
            pool.submit(embed, 0) if groups else None
        )
        for i, group in enumerate(groups):
            assert ahead is not None
            vectors, fresh_vectors = ahead.result()
            ahead = pool.submit(embed, i + 1) if i + 1 < len(groups) else None
            try:
                said.update(fresh_vectors)
                start, out = 0, []
                for gdoc, gchunks in group:
                    mine = {t: said[t] for t in sentences.get(gdoc.source_id, [])}
                    out.append((gdoc, gchunks, vectors[start : start + len(gchunks)], mine))
                    start += len(gchunks)
                yield out
            except BaseException:
                if ahead is not None:
                    ahead.cancel()
                raise


def _file_reports(parsed: ParsedSources, written: set[str]) -> list[FileReport]:
    """One line per file found: ingested, unchanged, skipped (why) or failed (why; its good sources still go in)."""
    docs: dict[str, list[SourceDoc | KnownSource]] = defaultdict(list)
    found: list[SourceDoc | KnownSource] = [*parsed.docs, *parsed.known]
    for doc in found:
        docs[doc.origin].append(doc)
    errors: dict[str, list[str]] = defaultdict(list)
    for error in parsed.errors:
        where = f"{error.path}:{error.line}" if error.line else error.path
        line = f"line {error.line}: " if error.line else ""
        errors[error.path].append(line + error.message.removeprefix(where + ": "))
    files = [FileReport(path=s.path, status="skipped", reason=s.reason) for s in parsed.skipped]
    for origin in parsed.origins:
        mine = docs.get(origin, [])
        status: Literal["ingested", "unchanged", "failed"] = (
            "failed" if origin in errors else "ingested" if any(d.source_id in written for d in mine) else "unchanged"
        )
        files.append(
            FileReport(
                path=origin,
                status=status,
                reason="; ".join(errors.get(origin, [])),
                sources=[d.source_id for d in mine],
                inferred=sorted({field for d in mine for field in d.inferred}),
            )
        )
    return sorted(files, key=lambda f: f.path)


def _scope(path: Path, root: Path) -> str:
    """The origin prefix a scanned path covers ("" = everything under root)."""
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name
    return "" if rel == "." else rel


def _within(origin: str, scope: str) -> bool:
    return scope == "" or origin == scope or origin.startswith(scope.rstrip("/") + "/")

"""deflect at scale, in one run: ingest against raw encode, unchanged re-ingest, /v1/ask against the floor (answered
and escalated apart), throughput with 1/4/8 clients, resolve -> searchable, server RSS; at N chunks and, with
--grow, again at a larger size.

    nice -n 10 .venv/bin/python benchmarks/scale.py --chunks 10000 --grow 100000 --out scale.json

Text: an installed Debian documentation package (default the Python 3.11 manual of python3.11-doc, HTML under
/usr/share/doc/python3.11/html), read where it is installed: whole pages, in a fixed shuffled order, until their
chunks reach --chunks; they are copied into a throwaway kb folder under --work and never committed. Ingested by
deflect's own Ingestor (wiring's index, embedder, keyword index and chunker, Settings from the environment), served
by a real `deflect serve` on loopback (embedded Chroma, SQLite store, as a default install).

Questions, written here and not taken from the manual: headings of the ingested pages, half of them alone and half as
"How do I use <heading>?" (asked by customers: public content), and a fixed list of questions no Python manual
answers. Each question is asked once per phase (the service caches question vectors: a repeat would skip the
embedding).

Each size's server starts on an empty database (escalations of an earlier run would have their questions embedded
by the gaps job at start-up, so a rerun's escalated asks would skip their embedding); the index is kept.

Ingest embeds on DEFLECT_EMBEDDING_INGEST_THREADS (default one per core) and raw encode runs on the same count, on a
sample of the same chunks, once before the ingest and once after: the ratio is to the mean of the two rates.

The floor of an ask is the question's embedding (the same model, threads and no cache, in this process) plus one raw
kNN query on the same collection, unfiltered, for retrieval_candidates results with their text and metadata,
measured with the server stopped; a stricter floor, the same kNN returning ids and distances only (as deflect's
own dense step asks for it), is reported beside it with the ratios to it.

--grow: the extra chunks are copies of the N ingested chunks under new ids (their source ids suffixed), with their
stored embeddings plus Gaussian noise (sigma --noise per dimension, renormalised): no model runs for them, and their
text repeats, so the keyword index holds each text several times. Costs, not retrieval quality, are measured there.

A benchmark, not a test: numbers depend on the machine and its load (reported), so nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
CUSTOMER = {"Authorization": "Bearer dev-customer-key"}
AGENT = {"Authorization": "Bearer dev-agent-key", "X-Actor": "bench"}
OUT_OF_SCOPE = [
    "How do I get a refund for my concert tickets?",
    "What is the best pizza in Naples?",
    "My dishwasher shows error E24, what should I do?",
    "How do I change the oil in a 2012 Toyota Corolla?",
    "Can I bring my dog on a Lufthansa flight?",
    "What time does the Louvre open on Sundays?",
    "How do I knit a cable-stitch scarf?",
    "Which fertiliser is best for tomatoes in clay soil?",
    "How do I file my taxes as a freelancer in Portugal?",
    "Why does my cat sneeze after eating?",
    "How long should I boil an egg for a runny yolk?",
    "What is the visa fee for a tourist visit to Brazil?",
    "How do I tune a ukulele to open G?",
    "My car battery dies overnight, what drains it?",
    "Where can I watch the football final tonight?",
    "How do I remove red wine from a wool carpet?",
    "What is the capital gains tax rate on crypto in Germany?",
    "How many calories are in a banana smoothie?",
    "How do I reset the router my internet provider sent me?",
    "Which running shoes are best for flat feet?",
    "How do I repot an orchid without killing it?",
    "Is it safe to swim after eating?",
    "How do I replace a bicycle inner tube?",
    "What is the weather in Reykjavik in March?",
    "How do I cancel my gym membership?",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=Path, default=Path("/usr/share/doc/python3.11/html"))
    parser.add_argument("--chunks", type=int, default=2000, help="chunks to ingest from the documentation")
    parser.add_argument("--grow", type=int, default=0, help="then grow the index to this many chunks and measure")
    parser.add_argument("--noise", type=float, default=0.01, help="per-dimension sigma of the grown copies' noise")
    parser.add_argument("--questions", type=int, default=80, help="in-scope questions per latency phase")
    parser.add_argument("--load-asks", type=int, default=48, help="asks per concurrency level")
    parser.add_argument("--encode-sample", type=int, default=2000, help="chunks encoded raw (all when fewer)")
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a new temporary one)")
    parser.add_argument("--out", type=Path, default=None, help="also write the report here as JSON")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--reuse", action="store_true", help="keep the index already under --work (no first ingest)")
    parser.add_argument("--skip-base", action="store_true", help="measure only the grown index")
    parser.add_argument(
        "--ingest-only",
        action="store_true",
        help="stop after ingest, raw encode and re-ingest (with --reuse: two unchanged re-ingests of the folder)",
    )
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="deflect-scale-"))
    env = bench_env(work)
    os.environ.update(env)  # this process builds the same Settings as the server it starts
    from deflect.wiring import offline_environment

    offline_environment()
    report: dict[str, Any] = {
        "machine": machine(),
        "work": str(work),
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    rng = random.Random(args.seed)

    bench = Bench(work, env, rng)
    try:
        reuse = args.reuse and bench.count() > 0
        headings = bench.prepare_kb(args.docs, args.chunks, copy=not reuse)
        report["kb"] = bench.kb_summary
        if not reuse:
            # Raw encode before and after the ingest, the ratio to their mean: the machine's speed drifts over a
            # 10k ingest's five minutes (session 24: one raw encode after the ingest measured 43.7-48.6 s for the
            # same 2,000 chunks, and the ratio moved 0.78-0.87x with it, the same code's ingest 276-295 s).
            step(report, "encode_before", lambda: bench.raw_encode(args.encode_sample))
            step(report, "ingest", bench.first_ingest)
            step(report, "encode", lambda: bench.raw_encode(args.encode_sample))
            ingest, runs = report["ingest"], (report["encode_before"], report["encode"])
            rate = sum(run["chunks_per_s"] for run in runs) / 2
            ingest["vs_raw_encode"] = round(ingest["chunks_per_s"] / rate, 2)
            ingest["vs_raw_encode_after_only"] = round(ingest["chunks_per_s"] / runs[1]["chunks_per_s"], 2)
            # Per CPU second too: on a shared machine the two phases get different shares of the cores.
            cpu_per_chunk = sum(run["cpu_s"] / run["chunks"] for run in runs) / 2
            ingest["vs_raw_encode_per_cpu_s"] = round(cpu_per_chunk / (ingest["cpu_s"] / ingest["chunks"]), 2)
        if not reuse:
            step(report, "reingest", bench.reingest)
            report["reingest"]["vs_first"] = round(report["reingest"]["s"] / report["ingest"]["s"], 3)
        elif args.ingest_only:
            # An existing folder: two unchanged re-ingests, as the first one may have files to parse again (a parse
            # memo from before, or none, or code that changed since it was written).
            step(report, "reingest", bench.reingest)
            step(report, "reingest_again", bench.reingest)
        if args.ingest_only:
            return 0
        if not reuse:
            step(report, "calibration", bench.calibrate)
        random.Random(args.seed).shuffle(headings)  # the same questions in every run on the same pages
        pool = Questions(headings)
        report["sizes"] = {}
        if not args.skip_base:
            step(report["sizes"], "base", lambda: bench.measure_size(pool, args))
        if args.grow > bench.count():
            step(report, "grow", lambda: bench.grow(args.grow, args.noise))
            step(report, "reingest_grown", bench.reingest)
            step(report["sizes"], "grown", lambda: bench.measure_size(pool, args))
        report["load_after"] = os.getloadavg()
    finally:
        text = json.dumps(report, indent=2)
        print(text)
        if args.out:
            args.out.write_text(text + "\n", encoding="utf-8")
    print(summary(report), file=sys.stderr)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def step(into: dict[str, Any], name: str, run: Any) -> None:
    """Run one measurement, saying on stderr when it starts and what it found."""
    print(f"{time.strftime('%H:%M:%S')} {name} ... (load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
    into[name] = run()
    print(f"{time.strftime('%H:%M:%S')} {name}: {json.dumps(into[name])[:400]}", file=sys.stderr, flush=True)


def bench_env(work: Path) -> dict[str, str]:
    """Everything under `work`: data folder (embedded Chroma, keyword index), kb folder, SQLite store."""
    return {
        "DEFLECT_DATA_DIR": str(work / "data"),
        "DEFLECT_KB_DIR": str(work / "kb"),
        "DEFLECT_DATABASE_URL": f"sqlite:///{work / 'deflect.db'}",
        "DEFLECT_CHROMA_MODE": "embedded",
        # The server runs in `work`: the repository's policy and escalation rules by absolute path.
        "DEFLECT_POLICY_FILE": str(REPO / "config" / "policy.yaml"),
        "DEFLECT_ESCALATION_FILE": str(REPO / "config" / "escalation.yaml"),
        "ANONYMIZED_TELEMETRY": "False",
    }


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    import torch

    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "load_before": os.getloadavg(),
        "torch": torch.__version__,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


class Questions:
    """Distinct in-scope questions, handed out without repeats (a repeat would hit the question-vector cache)."""

    def __init__(self, headings: list[str]) -> None:
        # Half as "How do I use <heading>?", half the heading alone (as the KB's calibration probes are asked).
        self._left = [f"How do I use {h}?" if i % 2 else h for i, h in enumerate(headings)]
        self._oos = 0

    def take(self, n: int) -> list[tuple[str, bool]]:
        """n in-scope questions and, mixed in, a fifth as many out-of-scope ones (suffixed to stay distinct)."""
        out = [(self._left.pop(), True) for _ in range(min(n, len(self._left)))]
        for _ in range(max(1, n // 5)):
            base = OUT_OF_SCOPE[self._oos % len(OUT_OF_SCOPE)]
            round_ = self._oos // len(OUT_OF_SCOPE)
            out.append((base if round_ == 0 else f"{base} (asking again, {round_})", False))
            self._oos += 1
        random.Random(len(out)).shuffle(out)
        return out


class Bench:
    def __init__(self, work: Path, env: dict[str, str], rng: random.Random) -> None:
        from deflect.config import Settings

        self.work = work
        self.env = env
        self.rng = rng
        self.settings = Settings(_env_file=None)  # type: ignore[call-arg]
        self.kb = work / "kb"
        self.files: list[Path] = []
        self.kb_summary: dict[str, Any] = {}
        self._index: Any = None
        self._parts: Any = None
        self._embedder: Any = None

    # --- the knowledge base -------------------------------------------------------------------------------------

    def prepare_kb(self, docs: Path, target: int, copy: bool = True) -> list[str]:
        """Copy whole pages of `docs`, in a shuffled order, until their chunks reach `target`; their headings."""
        from deflect.ingest.sources import parse_paths

        if not copy:  # a reused work folder: the headings of the chunks ingested from the pages (not grown copies)
            self.kb_summary = {"pages": "reused"}
            chunks_in = [c for page in self.parts()[0].pages() for c in page if "~" not in c.source_id]
            return sorted({h for h in map(_heading, chunks_in) if h})
        # Pages of prose: not the generated indexes (genindex, modindex, search).
        pages = sorted(
            p
            for p in docs.rglob("*.html")
            if not any(part.startswith("_") for part in p.relative_to(docs).parts)
            and not re.match(r"(genindex|py-modindex|search)", p.name)
        )
        self.rng.shuffle(pages)
        chunker = self.chunker()
        # Every page parsed once, as a folder of their copies: a file given alone is parsed with the other pages of
        # its folder (their shared boilerplate is taken out of it, deflect.ingest.sources), so parsing page by page
        # parsed each folder again for every page, the generated indexes included.
        staging = self.work / "pages"
        shutil.rmtree(staging, ignore_errors=True)
        for page in pages:
            (staging / page.relative_to(docs)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(page, staging / page.relative_to(docs))
        chunks_of: dict[str, list[Any]] = defaultdict(list)
        for doc in parse_paths([staging], staging, "probe").docs:
            chunks_of[doc.origin] += chunker.chunk(doc)
        shutil.rmtree(staging)
        headings: set[str] = set()
        chunks = 0
        for page in pages:
            if copy and chunks >= target:
                break
            got = chunks_of.get(page.relative_to(docs).as_posix(), [])
            if not got:
                continue
            dest = self.kb / page.relative_to(docs)
            if copy:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(page, dest)
            self.files.append(dest)
            chunks += len(got)
            headings |= {h for h in map(_heading, got) if h}
        self.kb_summary = {"docs": str(docs), "pages": len(self.files), "chunks_expected": chunks}
        return sorted(headings)

    def chunker(self) -> Any:
        from deflect.ingest.chunking import Chunker

        s = self.settings
        return Chunker(s.chunk_size, s.chunk_overlap, s.embed_page_lead)

    def parts(self) -> tuple[Any, Any, Any]:
        """Index, embedder (the model, uncached) and keyword index as wiring builds them, opened once (the index
        again after let_go)."""
        if self._parts is None:
            from deflect.wiring import build_embedder, build_index, build_keyword_index

            self._embedder = self._embedder or build_embedder(self.settings)
            self._parts = (build_index(self.settings), self._embedder, build_keyword_index(self.settings))
        return self._parts

    def let_go(self) -> None:
        """Close this process's Chroma client and give up its hold on the folder (deflect.index.owner: one process
        per embedded folder), so the `deflect serve` started next can open it; parts() opens it again after."""
        if self._parts is None:
            return
        from deflect.index.owner import release

        self._parts[0].client.close()
        release(self.settings.chroma_path)
        self._parts = None

    def ingestor(self) -> Any:
        """As `deflect ingest` builds it, anchor text included: without the anchor index the benchmark's KB held no
        anchors (0 for the Python manual's 10k chunks in session 13), so the anchor step it measured did no work."""
        from deflect.ingest.pipeline import Ingestor
        from deflect.wiring import build_anchor_index

        index, embedder, keyword = self.parts()
        anchors = build_anchor_index(self.settings, index)
        return Ingestor(
            index,
            embedder,
            self.chunker(),
            keyword,
            self.settings.parse_memo_path,
            anchors=anchors,
            parse_workers=self.settings.ingest_parse_workers,
        )

    def first_ingest(self) -> dict[str, Any]:
        ingestor = self.ingestor()
        started, cpu = time.perf_counter(), time.process_time()
        report = ingestor.ingest_paths([self.kb], self.kb)
        wall, used = time.perf_counter() - started, time.process_time() - cpu
        self.kb_summary["chunks"] = report.chunks
        return {
            "s": round(wall, 1),
            "chunks": report.chunks,
            "chunks_per_s": round(report.chunks / wall, 2),
            "cpu_s": round(used, 1),
            "cores_busy": round(used / wall, 2),
            "threads": self.parts()[1]._inner.batch_threads,
            "batch": self.settings.embedding_batch_size,
        }

    def raw_encode(self, sample: int) -> dict[str, Any]:
        """SentenceTransformer.encode of the same chunks' embed texts (a sample), same threads and batch size."""
        from deflect.ingest.sources import parse_paths

        texts = [
            c.embed_text for doc in parse_paths([self.kb], self.kb, "probe").docs for c in self.chunker().chunk(doc)
        ]
        if len(texts) > sample:
            texts = self.rng.sample(texts, sample)
        inner = self.parts()[1]._inner  # deflect's SentenceTransformerEmbedder behind the cache
        model = inner._model
        import torch

        torch.set_num_threads(inner.batch_threads)  # as many as the ingest's batches ran on
        started, cpu = time.perf_counter(), time.process_time()
        model.encode(
            texts, batch_size=self.settings.embedding_batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        wall, used = time.perf_counter() - started, time.process_time() - cpu
        return {
            "chunks": len(texts),
            "s": round(wall, 1),
            "cpu_s": round(used, 1),
            "chunks_per_s": round(len(texts) / wall, 2),
            "cores_busy": round(used / wall, 2),
            "threads": inner.batch_threads,
            "batch": self.settings.embedding_batch_size,
        }

    def reingest(self) -> dict[str, Any]:
        started = time.perf_counter()
        # The kb folder's entries, not the folder: pruning stays inside them, so grown copies (whose origins are
        # under no real path) are not deleted as sources gone from the kb.
        report = self.ingestor().ingest_paths(sorted(self.kb.iterdir()), self.kb)
        return {
            "s": round(time.perf_counter() - started, 2),
            "unchanged": report.unchanged,
            "added": report.added,
            "updated": report.updated,
            "index_chunks": report.chunks,
        }

    def calibrate(self) -> dict[str, Any]:
        """Fit the KB's calibration as `deflect ingest` does after an ingest (not part of the ingest time)."""
        from deflect.wiring import assemble

        index, embedder, keyword = self.parts()
        service = assemble(self.settings, index, embedder, keyword_index=keyword)
        started = time.perf_counter()
        said = service.calibrator.refresh_if_stale() if service.calibrator else "none"
        return {"s": round(time.perf_counter() - started, 1), "result": said}

    def count(self) -> int:
        return int(self.parts()[0].count())

    # --- growing the index with noisy copies ---------------------------------------------------------------------

    def grow(self, target: int, sigma: float) -> dict[str, Any]:
        index, _, keyword = self.parts()
        col = public_collection(index)  # the manual is public: every chunk is there
        base = col.get(include=["embeddings"], limit=1)  # dimension
        dim = len(base["embeddings"][0])
        rows: list[tuple[Any, np.ndarray]] = []
        stale: list[str] = []
        offset = 0
        from deflect.index.chroma import _from_record

        while True:
            res = col.get(limit=1000, offset=offset, include=["documents", "metadatas", "embeddings"])
            if not res["ids"]:
                break
            for cid, doc, meta, emb in zip(
                res["ids"], res["documents"], res["metadatas"], res["embeddings"], strict=True
            ):
                if "~" in cid:  # a copy left by an earlier, interrupted grow
                    stale.append(cid)
                else:
                    rows.append((_from_record(cid, doc, meta), np.asarray(emb, dtype=np.float32)))
            offset += len(res["ids"])
        index.delete_chunks(stale)
        keyword.delete_chunks(stale + [cid for cid in keyword.manifest() if "~" in cid])
        need = target - index.count()
        noise = np.random.default_rng(7)
        started = time.perf_counter()
        copy = 0
        written = 0
        while written < need:
            copy += 1
            batch_chunks, batch_vectors = [], []
            for chunk, vector in rows[: need - written]:
                noisy = vector + noise.normal(0, sigma, dim).astype(np.float32)
                noisy /= np.linalg.norm(noisy)
                batch_chunks.append(
                    chunk.model_copy(
                        update={
                            "chunk_id": f"{chunk.chunk_id}~{copy}",
                            "source_id": f"{chunk.source_id}~{copy}",
                            "origin": f"grown/{copy}/{chunk.origin}",
                        }
                    )
                )
                batch_vectors.append(noisy.tolist())
            for start in range(0, len(batch_chunks), 1000):
                index.upsert(batch_chunks[start : start + 1000], batch_vectors[start : start + 1000])
                keyword.upsert(batch_chunks[start : start + 1000])
            written += len(batch_chunks)
        return {
            "copies_of": len(rows),
            "added": written,
            "index_chunks": index.count(),
            "noise_sigma": sigma,
            "s": round(time.perf_counter() - started, 1),
        }

    # --- one index size -----------------------------------------------------------------------------------------

    def measure_size(self, pool: Questions, args: argparse.Namespace) -> dict[str, Any]:
        out: dict[str, Any] = {"chunks": self.count()}
        floor_questions = pool.take(args.questions)
        out["floor"] = self.floor(floor_questions)
        # A fresh database per server: at start-up the gaps job embeds every stored escalation's question, so an
        # earlier run's escalated questions would be in the question-vector cache and skip their embedding.
        for leftover in self.work.glob("deflect.db*"):
            leftover.unlink()
        self.let_go()
        server = Server(self.work, self.env)
        try:
            out["ready_s"] = round(server.ready_s, 1)
            out["rss_mb_ready"] = server.rss_mb()
            seq = pool.take(args.questions)
            out["ask"] = server.sequential(seq)
            out["load"] = {str(n): server.concurrent(pool.take(args.load_asks * 4 // 5), n) for n in (1, 4, 8)}
            out["resolve"] = server.resolve_to_searchable(3)
            out["rss_mb_after"] = server.rss_mb()
            out["rss_mb_peak"] = server.rss_peak_mb()
        finally:
            server.stop()
        # With the server stopped: this process opens the index again (one process per embedded folder).
        out["floor_same_questions"] = self.floor(seq)
        out["ratio"] = ratios(out["ask"], out["floor_same_questions"])
        out["ratio_to_ids_only_floor"] = ratios(out["ask"], out["floor_same_questions"], "floor_ids_only")
        return out

    def floor(self, questions: Sequence[tuple[str, bool]]) -> dict[str, Any]:
        """Question embedding (uncached) + raw unfiltered kNN, and the same kNN with the audience filter."""
        index, embedder, _ = self.parts()
        model = embedder._inner
        col = public_collection(index)
        n = self.settings.retrieval_candidates
        embed_ms, knn_ms, filtered_ms, ids_ms = [], [], [], []
        for question, _ in questions:
            t = time.perf_counter()
            vector = model.embed([question])[0]
            t1 = time.perf_counter()
            col.query(query_embeddings=[vector], n_results=n, include=["documents", "metadatas", "distances"])
            t2 = time.perf_counter()
            col.query(
                query_embeddings=[vector],
                n_results=n,
                where={"audience": {"$in": ["public"]}},
                include=["documents", "metadatas", "distances"],
            )
            t3 = time.perf_counter()
            col.query(query_embeddings=[vector], n_results=n, include=["distances"])
            t4 = time.perf_counter()
            embed_ms.append((t1 - t) * 1000)
            knn_ms.append((t2 - t1) * 1000)
            filtered_ms.append((t3 - t2) * 1000)
            ids_ms.append((t4 - t3) * 1000)
        total = [a + b for a, b in zip(embed_ms, knn_ms, strict=True)]
        # The kNN without the chunks' text and metadata, as deflect's own dense step asks for it since session 19
        # (it reads the chunks from the keyword index): a stricter floor, reported beside the one used since session 4.
        bare = [a + b for a, b in zip(embed_ms, ids_ms, strict=True)]
        return {
            "embed": pct(embed_ms),
            "knn": pct(knn_ms),
            "knn_audience_filter": pct(filtered_ms),
            "knn_ids_only": pct(ids_ms),
            "floor": pct(total),
            "floor_ids_only": pct(bare),
        }


class Server:
    """`deflect serve` on a free loopback port, on the bench's data folder."""

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        deflect = Path(sys.executable).with_name("deflect")
        log = (work / f"serve-{self.port}.log").open("wb")
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [str(deflect), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=work,
        )
        self.client = httpx.Client(base_url=self.url, timeout=120)
        deadline = time.monotonic() + 600
        while True:
            try:
                if self.client.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"deflect serve did not become ready; see {log.name}")
            time.sleep(0.2)
        self.ready_s = time.perf_counter() - started
        self.ask("warm up: how do I use the print function?", CUSTOMER)  # first ask loads the calibration

    def ask(self, question: str, headers: dict[str, str]) -> dict[str, Any]:
        resp = self.client.post("/v1/ask", json={"question": question}, headers=headers)
        resp.raise_for_status()
        return dict(resp.json())

    def sequential(self, questions: Sequence[tuple[str, bool]]) -> dict[str, Any]:
        by: dict[str, list[float]] = defaultdict(list)
        server_ms: dict[str, list[float]] = defaultdict(list)
        cpu = self.cpu_s()
        for question, _ in questions:
            t = time.perf_counter()
            body = self.ask(question, CUSTOMER)
            by[body["decision"]].append((time.perf_counter() - t) * 1000)
            server_ms[body["decision"]].append(float(body.get("latency_ms", 0)))
        # The server's CPU per ask (all its threads): what an ask costs, which other processes' load does not change
        # the way it changes latency on a shared machine.
        cpu_ms = round((self.cpu_s() - cpu) * 1000 / len(questions), 2)
        return {d: {"http": pct(v), "service": pct(server_ms[d])} for d, v in by.items()} | {
            "all": {"http": pct([x for v in by.values() for x in v]), "server_cpu_ms_per_ask": cpu_ms}
        }

    def cpu_s(self) -> float:
        """CPU seconds the server process has used (user + system, every thread)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def concurrent(self, questions: Sequence[tuple[str, bool]], clients: int) -> dict[str, Any]:
        times: list[float] = []
        lock = threading.Lock()
        local = threading.local()  # one keep-alive connection per client thread, as a real client would hold

        def one(q: tuple[str, bool]) -> None:
            if not hasattr(local, "c"):
                local.c = httpx.Client(base_url=self.url, timeout=120)
            t = time.perf_counter()
            local.c.post("/v1/ask", json={"question": q[0]}, headers=CUSTOMER).raise_for_status()
            with lock:
                times.append((time.perf_counter() - t) * 1000)

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(one, questions))
        wall = time.perf_counter() - started
        return {"asks": len(questions), "asks_per_s": round(len(questions) / wall, 2), "latency": pct(times)}

    def resolve_to_searchable(self, n: int) -> dict[str, Any]:
        """Escalate a question nothing answers, resolve it, and time until an ask retrieves the resolution first."""
        wall, reported, until_found = [], [], []
        for _ in range(n):
            word = "zq" + uuid.uuid4().hex[:8]
            asked = self.ask(f"I need a human: the {word} exporter hangs at ninety percent", AGENT)
            esc = asked["escalation_id"]
            for action in ("claim", "start"):
                self.client.post(f"/v1/escalations/{esc}/{action}", json={}, headers=AGENT).raise_for_status()
            t = time.perf_counter()
            resp = self.client.post(
                f"/v1/escalations/{esc}/resolve",
                headers=AGENT,
                json={"resolution": f"Restart the {word} exporter job, then run it again."},
            )
            resp.raise_for_status()
            wall.append((time.perf_counter() - t) * 1000)
            reported.append(resp.json().get("searchable_ms") or float("nan"))
            while time.perf_counter() - t < 120:
                got = self.ask(f"{word} exporter hangs", AGENT)
                if got["retrieved"] and got["retrieved"][0] == f"esc:{esc}":
                    break
            until_found.append((time.perf_counter() - t) * 1000)
        return {
            "resolve_request_ms": pct(wall),
            "searchable_ms_reported": pct(reported),
            "resolve_to_found_by_ask_ms": pct(until_found),
        }

    def _pids(self) -> list[int]:
        pids = [self.proc.pid]
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
            pids += [int(c) for c in children]
        except OSError:
            pass
        return pids

    def _status(self, field: str) -> float:
        total = 0.0
        for pid in self._pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1]) / 1024
        return round(total, 1)

    def rss_mb(self) -> float:
        return self._status("VmRSS")

    def rss_peak_mb(self) -> float:
        return self._status("VmHWM")

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def _heading(chunk: Any) -> str | None:
    """A chunk's own heading, without section numbers, if it makes a question."""
    last = chunk.heading_path.split(" > ")[-1] if chunk.heading_path else chunk.title
    last = re.sub(r"^[\d.]+\s+", "", last).strip().rstrip("¶").strip()
    return last if 3 <= len(last) <= 80 else None


def public_collection(index: Any) -> Any:
    """The Chroma collection customers' asks search: the public one, or the only one (deflect before the split)."""
    cols = getattr(index, "_cols", None)
    return cols["public"] if cols else index._col


def pct(values: Sequence[float]) -> dict[str, float]:
    clean = sorted(v for v in values if v == v)
    if not clean:
        return {"n": 0}
    return {
        "n": len(clean),
        "p50": round(statistics.median(clean), 1),
        "p95": round(clean[min(len(clean) - 1, int(0.95 * (len(clean) - 1) + 0.5))], 1),
    }


def ratios(ask: dict[str, Any], floor: dict[str, Any], key: str = "floor") -> dict[str, Any]:
    base = floor[key]
    return {d: {q: round(v["http"][q] / base[q], 2) for q in ("p50", "p95") if q in v["http"]} for d, v in ask.items()}


def summary(report: dict[str, Any]) -> str:
    lines = [
        f"kb: {report['kb']}",
        f"ingest: {report.get('ingest')}",
        f"raw encode before / after the ingest: {report.get('encode_before')} / {report.get('encode')}",
        f"unchanged re-ingest: {report.get('reingest')}",
    ]
    for name, size in report["sizes"].items():
        lines.append(
            f"{name}: {size['chunks']} chunks; floor {size['floor_same_questions']['floor']}; "
            f"ask {json.dumps(size['ask'])}; ratio {size['ratio']} (to the ids-only floor "
            f"{size['floor_same_questions']['floor_ids_only']}: {size['ratio_to_ids_only_floor']}); load "
            f"{ {k: v['asks_per_s'] for k, v in size['load'].items()} }; resolve {size['resolve']}; "
            f"rss {size['rss_mb_ready']} -> {size['rss_mb_after']} (peak {size['rss_mb_peak']}) MB"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())

"""Scale: a >= 100k-sentence index (incremental add, restart, memory, query latency) and 1M vectors.

Usage: python bench/bench_scale.py [--copies 21] [--million 1000000]
The 100k corpus is the public SQuAD file's documents indexed several times under new ids (real
text; each text is embedded once and reused for its copies, cached in bench/.cache). The 1M set
mixes pairs of those real vectors (normalised), searched with real question vectors, and the
lexical side is timed on 1M real sentences recombined in pairs. Writes bench/results/scale.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_core import (
    DEFAULT_SQUAD,
    Asker,
    bare_encode_ms,
    markdown_table,
    percentiles,
    rss_mb,
    time_each,
    wait_prepared,
)
from bench.harness import make_doc, provenance, running_server
from embeddings.onnx_model import OnnxEmbedder
from embeddings.vector_index import VectorIndex
from qa.app.evaluation import load_squad
from qa.app.service import Verbatim
from qa.config import Settings
from qa.reading.chunking import split_sentences
from qa.reading.documents import Document
from qa.storage.sqlite import Store
from qa.text.words import query_terms

CACHE = ROOT / "bench" / ".cache"


class MemoEmbedder(OnnxEmbedder):
    """The real model, embedding each distinct text once (copies of a document reuse vectors)."""

    def __init__(self) -> None:
        super().__init__()
        self.memo: dict[str, np.ndarray] = {}
        self.embedded = 0

    def encode(self, texts, show_progress=False):
        todo = list(dict.fromkeys(t for t in texts if t not in self.memo))
        if todo:
            for t, v in zip(todo, super().encode(todo)):
                self.memo[t] = v
            self.embedded += len(todo)
        return np.stack([self.memo[t] for t in texts]) if texts else super().encode(texts)


def timed(fn, *args):
    """Run once and return (result, seconds)."""
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def hundred_k(copies: int, squad: Path, n_questions: int) -> dict[str, object]:
    """Build the large index and measure add, rebuild, restart, memory and HTTP latency."""
    docs, questions = load_squad(squad)
    corpus = [Document(f"{d.doc_id}~{k}", d.title, d.text, d.source)
              for k in range(copies) for d in docs]
    qs = [q.question for q in questions[::max(1, len(questions) // n_questions)]][:n_questions]
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="verbatim-scale-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        embedder = MemoEmbedder()
        service = Verbatim(settings, embedder=embedder)
        service.warm_up()
        report, out["build_s"] = timed(service.add_documents, corpus)
        counts = service.counts()
        out.update(sentences=counts["sentences"], passages=counts["passages"],
                   documents=counts["documents"],
                   approximate=service.indexer.sentence_index.approximate)
        one = Document("new-doc", "Courier", make_doc("newdoc", 20)["text"])
        _, out["add_one_doc_s"] = timed(service.add_documents, [one])
        with tempfile.TemporaryDirectory() as small:
            empty = Verbatim(Settings(data_dir=Path(small)), embedder=embedder)
            empty.warm_up()
            two = Document("new-doc", "Courier", make_doc("newdoc2", 20)["text"])
            _, out["add_one_doc_to_empty_s"] = timed(empty.add_documents, [two])
        _, out["full_rebuild_s"] = timed(service.rebuild)  # embeddings memoised: a lower bound
        out["add_one_over_rebuild"] = round(out["add_one_doc_s"] / out["full_rebuild_s"], 4)
        # Recall of the approximate index against exact search, with real question vectors.
        ids, vectors = service.store.load_vectors("sentences")
        q_vecs = embedder.encode(qs)
        exact = faiss.IndexFlatIP(vectors.shape[1])
        exact.add(vectors)
        _, truth = exact.search(q_vecs, 10)
        approx = service.indexer.sentence_index
        hits = [len({ids[j] for j in truth[i]} & set(approx.search(q_vecs[i], 10)))
                for i in range(len(qs))]
        out["recall_at_10"] = round(float(np.mean(hits)) / 10, 4)
        service.close()
        t = time.perf_counter()
        fresh = Verbatim(settings, embedder=OnnxEmbedder())
        fresh.embedder.warm_up()
        out["model_load_s"] = round(time.perf_counter() - t, 2)
        _, out["index_ready_s"] = timed(fresh.indexer.load)
        t_start = time.perf_counter()
        with running_server(Path(tmp), "--no-seeds") as (url, server):
            out["server_ready_s"] = round(time.perf_counter() - t_start, 2)
            out["prepared_after_s"] = round(wait_prepared(url), 2)
            asker = Asker(url)
            http = time_each(asker, qs)
            asker.close()
            out["server_rss_mb"] = round(rss_mb(server.pid))
    out["http_p50_ms"], out["http_p95_ms"] = (round(x, 1) for x in percentiles(http))
    out["bare_encode_p50_ms"] = round(float(np.percentile(bare_encode_ms(qs), 50)), 1)
    out["http_p50_over_encode"] = round(out["http_p50_ms"] / out["bare_encode_p50_ms"], 2)
    for key in ("build_s", "add_one_doc_s", "add_one_doc_to_empty_s", "full_rebuild_s",
                "index_ready_s"):
        out[key] = round(out[key], 3)
    return out


def million(n: int, squad: Path, n_questions: int, nprobe: int) -> dict[str, object]:
    """Search 1M real-derived vectors with IVF; time FTS5 over 1M recombined sentences."""
    docs, questions = load_squad(squad)
    qs = [q.question for q in questions[::max(1, len(questions) // n_questions)]][:n_questions]
    embedder = OnnxEmbedder()
    sentences = [s.text for d in docs for s in split_sentences(d.text) if s.quotable]
    cache = CACHE / f"scale-vectors-{len(sentences)}.npz"
    if cache.exists():
        base = np.load(cache)["vectors"]
    else:
        CACHE.mkdir(exist_ok=True)
        base = embedder.encode(sentences)
        np.savez(cache, vectors=base)
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, len(base), n), rng.integers(0, len(base), n)
    w = rng.uniform(0.3, 0.7, (n, 1)).astype(np.float32)
    vectors = w * base[i] + (1 - w) * base[j]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    q_vecs = embedder.encode(qs)
    out: dict[str, object] = {"vectors": n, "real_sentences": len(base), "nlist": 0}
    index, out["ivf_build_s"] = timed(VectorIndex.from_vectors, np.arange(n), vectors,
                                      vectors.shape[1], 1, nprobe)
    out["nlist"] = index._index.nlist
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    faiss.omp_set_num_threads(2)
    t = time.perf_counter()
    _, truth = exact.search(q_vecs, 10)
    out["exact_search_ms"] = round((time.perf_counter() - t) / len(qs) * 1000, 1)
    faiss.omp_set_num_threads(1)
    for probe in sorted({nprobe, 2 * nprobe, 4 * nprobe}):
        index._index.nprobe = probe
        times, hits = [], []
        for k, q in enumerate(q_vecs):
            t = time.perf_counter()
            found = index.search(q, 10)
            times.append((time.perf_counter() - t) * 1000)
            hits.append(len(set(found) & set(truth[k].tolist())))
        out[f"nprobe{probe}_recall_at_10"] = round(float(np.mean(hits)) / 10, 4)
        out[f"nprobe{probe}_search_p50_ms"] = round(float(np.percentile(times, 50)), 2)
    out["ivf_build_s"] = round(out["ivf_build_s"], 1)
    # Lexical: the store's own FTS5 table and search over 1M recombined sentences, both scoring
    # every matching row (no budget) and with the default row budget.
    with tempfile.TemporaryDirectory(prefix="verbatim-fts-") as tmp:
        store = Store(Path(tmp))
        with store.transaction(bump=False) as tx:
            tx.executemany("INSERT INTO sentence_fts (rowid, title, body) VALUES (?, '', ?)",
                           ((k + 1, f"{sentences[a]} {sentences[b]}") for k, (a, b) in enumerate(
                               zip(rng.integers(0, len(sentences), n),
                                   rng.integers(0, len(sentences), n)))))
        budget = Settings().lexical_budget
        for name, limit in (("all_rows", None), (f"budget{budget}", budget)):
            lex = []
            for q in qs:
                t = time.perf_counter()
                store.lexical_search("sentences", query_terms(q), limit)
                lex.append((time.perf_counter() - t) * 1000)
            out[f"bm25_{name}_p50_ms"] = round(float(np.percentile(lex, 50)), 1)
            out[f"bm25_{name}_p95_ms"] = round(float(np.percentile(lex, 95)), 1)
    return out


def table(title: str, row: dict[str, object]) -> str:
    """One titled markdown table of a result row."""
    return f"### {title}\n\n{markdown_table([row])}\n"


def main() -> None:
    """Run both scales and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--copies", type=int, default=21)
    parser.add_argument("--million", type=int, default=1_000_000)
    parser.add_argument("--nprobe", type=int, default=Settings().nprobe)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--skip-100k", action="store_true")
    args = parser.parse_args()
    parts = []
    if not args.skip_100k:
        big = hundred_k(args.copies, args.squad, args.questions)
        print(json.dumps(big))
        parts.append(table(f"{big['sentences']:,} sentences", big))
    if args.million:
        m = million(args.million, args.squad, args.questions, args.nprobe)
        print(json.dumps(m))
        parts.append(table(f"{args.million:,} vectors", m))
    command = f"python bench/bench_scale.py --copies {args.copies} --million {args.million}"
    text = f"# Scale\n\n{provenance(command)}\n\n" + "\n".join(parts)
    (ROOT / "bench" / "results" / "scale.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

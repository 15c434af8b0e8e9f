"""Compressed vectors and sharded search, simulated: what docs/scaling.md's numbers rest on.

Usage: python bench/sim_sharding.py [--vectors 200000] [--shards 4] [--queries 200]
Writes bench/results/sharding.md.

Vectors are 384-dimensional like all-MiniLM-L6-v2's, drawn around a few thousand topic centres
so that neighbours exist (uniform random vectors have none worth finding). Two questions:
- How much memory does a vector take as float32, int8 (scalar quantiser) and product-quantised
  codes, and what recall@10 against exact float32 search does each keep?
- Scatter-gather: documents hashed to S shards, each searched for its own top 10 and the lists
  merged. Is the merged top 10 the unsharded one, and what does one shard's search cost?
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_core import markdown_table
from bench.harness import provenance

DIM, K = 384, 10


def clustered(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """Unit vectors near random topic centres."""
    x = centres[rng.integers(0, len(centres), n)] + 0.8 * rng.standard_normal((n, DIM))
    x = x.astype(np.float32)
    faiss.normalize_L2(x)
    return x


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Share of the true top-K found, averaged over queries."""
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth)]))


def timed_search(index: faiss.Index, queries: np.ndarray) -> tuple[np.ndarray, float]:
    """Search one query at a time, as a server does; ids and the median milliseconds."""
    ids, times = [], []
    for q in queries:
        t = time.perf_counter()
        _, i = index.search(q[None], K)
        times.append((time.perf_counter() - t) * 1000)
        ids.append(i[0])
    return np.array(ids), float(np.median(times))


def main() -> None:
    """Run both simulations and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((4000, DIM)).astype(np.float32)
    base = clustered(args.vectors, rng, centres)
    queries = clustered(args.queries, rng, centres)
    exact = faiss.IndexFlatIP(DIM)
    exact.add(base)
    truth, exact_ms = timed_search(exact, queries)

    rows = [{"vectors as": "float32 (flat, exact)", "bytes_per_vector": DIM * 4,
             "recall_at_10": 1.0, "search_p50_ms": round(exact_ms, 2)}]
    sq = faiss.IndexScalarQuantizer(DIM, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    sq.train(base[:50_000])
    sq.add(base)
    found, ms = timed_search(sq, queries)
    rows.append({"vectors as": "int8 (scalar quantiser, flat)", "bytes_per_vector": DIM,
                 "recall_at_10": round(recall(found, truth), 3), "search_p50_ms": round(ms, 2)})
    for m in (48, 96):
        pq = faiss.IndexPQ(DIM, m, 8, faiss.METRIC_INNER_PRODUCT)
        pq.train(base[:50_000])
        pq.add(base)
        found, ms = timed_search(pq, queries)
        rows.append({"vectors as": f"PQ {m} x 8 bits (flat)", "bytes_per_vector": m,
                     "recall_at_10": round(recall(found, truth), 3),
                     "search_p50_ms": round(ms, 2)})
        # Re-ranking the PQ shortlist with the exact vectors (kept on disk) recovers recall.
        shortlist = []
        for q in queries:
            _, cand = pq.search(q[None], 100)
            scores = base[cand[0]] @ q
            shortlist.append(cand[0][np.argsort(-scores)[:K]])
        rows.append({"vectors as": f"PQ {m}, top 100 re-ranked exactly",
                     "bytes_per_vector": m, "recall_at_10": round(recall(np.array(shortlist),
                                                                         truth), 3),
                     "search_p50_ms": "-"})

    # Scatter-gather: each vector belongs to a document, documents hashed to shards.
    doc_of = np.arange(args.vectors) // 5  # five sentences a document
    shard_of = (doc_of * 2654435761 % 2**32) % args.shards
    shard_ids, shard_indexes = [], []
    for s in range(args.shards):
        ids = np.flatnonzero(shard_of == s)
        index = faiss.IndexFlatIP(DIM)
        index.add(base[ids])
        shard_ids.append(ids)
        shard_indexes.append(index)
    merged, shard_ms = [], []
    for q in queries:
        scores, ids = [], []
        for s, index in enumerate(shard_indexes):
            t = time.perf_counter()
            d, i = index.search(q[None], K)
            shard_ms.append((time.perf_counter() - t) * 1000)
            scores.append(d[0])
            ids.append(shard_ids[s][i[0]])
        scores, ids = np.concatenate(scores), np.concatenate(ids)
        merged.append(ids[np.argsort(-scores)[:K]])
    sizes = [len(i) for i in shard_ids]
    shard_rows = [{"shards": args.shards, "vectors_per_shard": f"{min(sizes)}-{max(sizes)}",
                   "merged_top10_equals_unsharded": round(recall(np.array(merged), truth), 4),
                   "one_shard_search_p50_ms": round(float(np.median(shard_ms)), 2),
                   "unsharded_search_p50_ms": round(exact_ms, 2)}]
    text = ["# Compressed vectors and sharded search (simulation)", "",
            provenance(f"python bench/sim_sharding.py --vectors {args.vectors} --shards "
                       f"{args.shards} --queries {args.queries}") + " One thread.", "",
            "## Memory per vector and recall@10 against exact float32 search", "",
            markdown_table(rows), "", "## Scatter-gather over hashed shards", "",
            markdown_table(shard_rows), ""]
    out = ROOT / "bench" / "results" / "sharding.md"
    out.write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()

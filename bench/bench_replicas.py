"""Replicas on PostgreSQL and bulk embedding on Dask, against the embedded default.

Usage: python bench/bench_replicas.py [--writes 50] [--rounds 5] [--squad PATH] [--skip-dask]
Writes bench/results/replicas.md. Targets (issue: replicas on PostgreSQL, Dask):
- a write through replica A is answered by replica B within 2 s (p95 over the writes);
- an answer through a PostgreSQL-backed replica within 1.1x the embedded one (same corpus);
- a rebuild on a 2-worker Dask cluster at >= 0.8x the single-process pace on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_core import Asker, markdown_table, wait_prepared
from bench.harness import make_doc, provenance, running_server
from qa.app.evaluation import load_jsonl
from qa.storage.local_postgres import LocalPostgres

RESULTS = ROOT / "bench" / "results"
SQUAD = ROOT.parent / "shared" / "data" / "squad-dev-public.json"


def latency(urls: dict[str, str], questions: list[str], rounds: int) -> dict[str, list[float]]:
    """Ask every question of each server in turn, `rounds` times, one at a time, so drift on
    shared cores hits them alike; milliseconds per answer, by server."""
    askers = {name: Asker(url) for name, url in urls.items()}
    out: dict[str, list[float]] = {name: [] for name in urls}
    for _ in range(rounds):
        for q in questions:
            for name, ask in askers.items():
                t = time.perf_counter()
                ask(q)
                out[name].append((time.perf_counter() - t) * 1000)
    for ask in askers.values():
        ask.close()
    return out


def visibility(url_a: str, url_b: str, writes: int) -> list[float]:
    """Add a document through A, then time until B's answer cites it; seconds per write."""
    import httpx

    out = []
    ask_b = Asker(url_b)
    with httpx.Client(base_url=url_a, timeout=60) as a:
        for i in range(writes):
            doc = make_doc(f"v{i}", sentences=5)
            t = time.perf_counter()
            a.post("/v1/documents", json={"documents": [doc]}).raise_for_status()
            while True:
                body = ask_b(f"What did courier V{i} carry?")
                if body["answers"] and body["answers"][0]["citation"]["doc_id"] == doc["doc_id"]:
                    break
                if time.perf_counter() - t > 30:
                    raise RuntimeError(f"replica B never answered from {doc['doc_id']}")
                time.sleep(0.01)
            out.append(time.perf_counter() - t)
    ask_b.close()
    return out


MEMORY_PROBE = """
import json, os, sys, time
from bench.bench_core import rss_mb
from qa.config import Settings
from qa.app.service import Verbatim
service = Verbatim(Settings(data_dir=sys.argv[1], store_url=sys.argv[2], seed_on_start=False))
service.embedder.warm_up()
before = rss_mb(os.getpid())
service.warm_up()
service.answerer.prepared.wait(600)
service.ask("How long did the relay last?")
print(json.dumps({"before": before, "after": rss_mb(os.getpid()), "n": service.store.counts()}))
"""


def replica_memory(store_url: str) -> dict[str, object]:
    """Start a replica process on the store and measure what its index adds to its memory
    (the model loaded first; then the copy, vectors, catalog and ranking's analyses)."""
    import subprocess

    with tempfile.TemporaryDirectory(prefix="verbatim-bench-") as tmp:
        done = subprocess.run([sys.executable, "-c", MEMORY_PROBE, tmp, store_url], cwd=ROOT,
                              capture_output=True, text=True, check=True)
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    sentences = probe["n"]["sentences"]
    return {"replica_memory_bytes_per_sentence": round(
                (probe["after"] - probe["before"]) * 1e6 / sentences),
            "replica_model_and_runtime_mb": round(probe["before"])}


def dask_pace(squad: Path, store_url: str) -> tuple[list[dict[str, object]], dict[str, object]]:
    """Rebuild the SQuAD file's index (in PostgreSQL) in one process and on a 2-worker
    LocalCluster; and what a sentence costs in the store, the replica's copy and memory."""
    import psycopg
    from distributed import LocalCluster

    from qa.app.evaluation import load_squad
    from qa.app.service import Verbatim
    from qa.config import Settings
    from qa.indexing.cluster import DaskEncoder

    docs, _ = load_squad(squad)
    rows = []
    with tempfile.TemporaryDirectory(prefix="verbatim-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), seed_on_start=False, store_url=store_url)
        service = Verbatim(settings)
        service.add_documents(docs)
        counts = service.store.counts()
        sentences = counts["sentences"]
        with psycopg.connect(store_url) as conn:
            pg_bytes = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        costs = {"sentences": sentences, "passages": counts["passages"],
                 "postgresql_bytes_per_sentence": round(pg_bytes / sentences),
                 "replica_copy_bytes_per_sentence": round(service.store.disk_bytes() / sentences),
                 **replica_memory(store_url)}
        t = time.perf_counter()
        service.rebuild()
        single = time.perf_counter() - t
        rows.append({"rebuild": "one process (2 threads)", "seconds": round(single, 1),
                     "sentences_per_s": round(sentences / single, 1), "vs_one_process": "1.00x"})
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          scheduler_port=0, dashboard_address=None) as cluster:
            encoder = DaskEncoder(cluster.scheduler_address, settings)
            encoder(["warm up the workers' models"] * 4)
            t = time.perf_counter()
            service.rebuild(None, encoder)
            spread = time.perf_counter() - t
            encoder.close()
        rows.append({"rebuild": "Dask LocalCluster, 2 workers x 1 thread",
                     "seconds": round(spread, 1), "sentences_per_s": round(sentences / spread, 1),
                     "vs_one_process": f"{single / spread:.2f}x"})
        service.close()
    return rows, costs


def main() -> None:
    """Run the three measurements and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--squad", type=Path, default=SQUAD)
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args()
    questions = [q.question for q in load_jsonl(ROOT / "tests" / "data" / "seed_questions.jsonl")]
    server = LocalPostgres().init().start()
    try:
        url = server.create_database("bench")
        env = {**os.environ, "VERBATIM_STORE_URL": url}
        with tempfile.TemporaryDirectory(prefix="verbatim-bench-") as tmp:
            root = Path(tmp)
            with running_server(root / "embedded") as (embedded, _), \
                    running_server(root / "a", env=env) as (url_a, _), \
                    running_server(root / "b", env=env) as (url_b, _):
                for u in (embedded, url_a, url_b):
                    wait_prepared(u)
                rounds = latency({"embedded (SQLite)": embedded, "PostgreSQL replica": url_b},
                                 questions, args.rounds)
                lat_rows = [{"store": k, "questions": len(v),
                             "p50_ms": round(float(np.percentile(v, 50)), 2),
                             "p95_ms": round(float(np.percentile(v, 95)), 2)}
                            for k, v in rounds.items()]
                ratio = lat_rows[1]["p50_ms"] / lat_rows[0]["p50_ms"]
                seen = visibility(url_a, url_b, args.writes)
        dask_rows, costs = ([], {}) if args.skip_dask else dask_pace(
            args.squad, server.create_database("squad"))
    finally:
        server.stop()
    vis = {"writes": len(seen), "p50_s": round(float(np.percentile(seen, 50)), 3),
           "p95_s": round(float(np.percentile(seen, 95)), 3), "max_s": round(max(seen), 3)}
    text = [
        "# Replicas and bulk embedding", "",
        provenance(f"python bench/bench_replicas.py --writes {args.writes} --rounds "
                   f"{args.rounds}{' --skip-dask' if args.skip_dask else ''}"), "",
        "## Answer latency, same corpus (the seeds), over HTTP", "",
        markdown_table(lat_rows), "",
        f"PostgreSQL replica / embedded p50: **{ratio:.2f}x** (target <= 1.1x).", "",
        "## A write through replica A, answered by replica B", "",
        markdown_table([vis]), "",
        "Target: p95 <= 2 s.", "",
    ]
    if dask_rows:
        text += ["## Rebuilding the SQuAD public file's index (stored in PostgreSQL)", "",
                 markdown_table(dask_rows), "",
                 "Sentences per second of the whole rebuild; its passages and word vectors are "
                 "embedded too. Target: Dask at >= 0.8x one process on these 2 cores.", "",
                 "## What a sentence costs (the SQuAD public file)", "", markdown_table([costs]),
                 "", "Memory: a replica process started on the store, once it has loaded the "
                 "index and analysed its sentences, less the same process with only the model "
                 "loaded. PostgreSQL's figure includes the empty database (about 7.5 MB).", ""]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "replicas.md").write_text("\n".join(text))
    print("\n".join(text))
    print(json.dumps({"latency": lat_rows, "visibility": vis, "dask": dask_rows, "costs": costs}))


if __name__ == "__main__":
    main()

"""Core figures: index build time, query latency (in-process and over HTTP) and server memory.

Usage: python bench/bench_core.py [--squad ../shared/data/squad-dev-public.json] [--queries 300]
Runs on the seeds and on the SQuAD file, each in a fresh temporary data dir, and writes
bench/results/core.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import provenance, running_server
from qa.app.evaluation import load_jsonl, load_squad
from qa.app.service import Verbatim
from qa.config import DEFAULT_SEEDS_DIR, Settings
from qa.reading.files import find_document_files, load_file

DEFAULT_SQUAD = ROOT.parent / "shared" / "data" / "squad-dev-public.json"


def markdown_table(rows: list[dict[str, object]]) -> str:
    """Lay result rows out as a markdown table, one column per key of the first row."""
    keys = list(rows[0])
    return "\n".join(["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)] +
                     ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows])


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(ms: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def time_each(call: Callable[[str], object], questions: list[str]) -> list[float]:
    """Milliseconds per call, after five warm-up calls."""
    for q in questions[:5]:
        call(q)
    out = []
    for q in questions:
        t = time.perf_counter()
        call(q)
        out.append((time.perf_counter() - t) * 1000)
    return out


class Asker:
    """A lean keep-alive HTTP client, so the timings are the server's and not a client library's.

    httpx adds about a millisecond per request on this machine, which is a cost of the client.
    """

    def __init__(self, url: str) -> None:
        """Connect once to the server at `url` (http://host:port)."""
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)

    def __call__(self, question: str) -> dict:
        """POST one question to /v1/answer and return the parsed answer."""
        self.conn.request("POST", "/v1/answer", json.dumps({"question": question}),
                          {"Content-Type": "application/json"})
        response = self.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {body[:200]!r}")
        return json.loads(body)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def wait_prepared(url: str, timeout: float = 120.0) -> float:
    """Wait until the server has analysed its sentences (`/healthz` "prepared"); seconds waited.

    Latencies are steady-state figures: questions asked in the first second or so after a
    start, while that analysis runs between them, cost about a millisecond more.
    """
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if httpx.get(f"{url}/healthz", timeout=5).json().get("prepared", True):
            break
        time.sleep(0.05)
    return time.perf_counter() - start


def bare_encode_ms(questions: list[str]) -> list[float]:
    """Time the floor: a bare SentenceTransformer encode of each question, torch, same model."""
    from sentence_transformers import SentenceTransformer

    from embeddings.model import model_path

    model = SentenceTransformer(model_path("all-MiniLM-L6-v2"), device="cpu")
    return time_each(model.encode, questions)


def measure(name: str, docs: list, questions: list[str], n_http: int) -> dict[str, object]:
    """Index `docs` into a fresh dir, then time questions in-process and through `qa serve`."""
    with tempfile.TemporaryDirectory(prefix="verbatim-bench-") as tmp:
        service = Verbatim(Settings(data_dir=Path(tmp)))
        service.warm_up()
        t0 = time.perf_counter()
        report = service.add_documents(docs)
        build = time.perf_counter() - t0
        service.close()
        local = time_each(service.ask, questions)
        t_start = time.perf_counter()
        with running_server(Path(tmp), "--no-seeds") as (url, server):
            ready = time.perf_counter() - t_start
            prepared = wait_prepared(url)
            asker = Asker(url)
            remote = time_each(asker, questions[:n_http])
            asker.close()
            memory = rss_mb(server.pid)
    p50, p95 = percentiles(local)
    h50, h95 = percentiles(remote)
    floor = float(np.percentile(bare_encode_ms(questions), 50))
    return {"corpus": name, "documents": len(docs), "sentences": report.sentences_embedded,
            "index_build_s": round(build, 1), "server_ready_s": round(ready, 1),
            "prepared_after_s": round(prepared, 1),
            "query_p50_ms": round(p50, 1), "query_p95_ms": round(p95, 1),
            "http_p50_ms": round(h50, 1), "http_p95_ms": round(h95, 1),
            "server_rss_mb": round(memory), "queries": len(local),
            "bare_encode_p50_ms": round(floor, 1), "http_p50_over_encode": round(h50 / floor, 2)}


def main() -> None:
    """Run both corpora and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    seed_docs = [load_file(*f) for f in find_document_files([DEFAULT_SEEDS_DIR]).files]
    seed_qs = [q.question for q in load_jsonl(ROOT / "tests" / "data" / "seed_questions.jsonl")]
    rows = [measure("seeds", seed_docs, (seed_qs * 10)[:args.queries], args.queries)]
    if args.squad.exists():
        docs, questions = load_squad(args.squad)
        qs = [q.question for q in questions[::max(1, len(questions) // args.queries)]]
        rows.append(measure("squad-dev-public", docs, qs[:args.queries], args.queries))
    table = markdown_table(rows)
    out = ROOT / "bench" / "results" / "core.md"
    out.write_text(f"# Core figures\n\n{provenance('python bench/bench_core.py')}\n\n{table}\n")
    print(table)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()

"""Load: throughput of one client against 16 concurrent clients, over HTTP on loopback.

Usage: python bench/bench_load.py [--seconds 30] [--clients 16]
Writes bench/results/load.md. Target: zero errors and >= 1.5x the one-client throughput.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_core import Asker, markdown_table
from bench.harness import provenance, running_server
from qa.app.evaluation import load_jsonl


def drive(url: str, clients: int, seconds: float, questions: list[str]) -> dict[str, float]:
    """Send questions from `clients` threads for `seconds`; count answers, errors, latency."""
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client(offset: int) -> None:
        ask = Asker(url)
        i = offset
        while time.monotonic() < stop:
            t = time.perf_counter()
            try:
                ask(questions[i % len(questions)])
                ok = True
            except (RuntimeError, OSError, http.client.HTTPException):
                ok = False
                ask.close()
                ask = Asker(url)
            with lock:
                latencies.append((time.perf_counter() - t) * 1000)
                errors[0] += not ok
            i += 1
        ask.close()

    threads = [threading.Thread(target=client, args=(k * 7,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"clients": clients, "requests": len(latencies), "errors": errors[0],
            "throughput_rps": round(len(latencies) / seconds, 1),
            "p50_ms": round(float(np.percentile(latencies, 50)), 1),
            "p95_ms": round(float(np.percentile(latencies, 95)), 1)}


def main() -> None:
    """Measure one client, then many, against the same server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2,
                        help="qa serve --workers (default: one per core on this 2-core machine)")
    args = parser.parse_args()
    questions = [q.question for q in load_jsonl(ROOT / "tests" / "data" / "seed_questions.jsonl")]
    with tempfile.TemporaryDirectory(prefix="verbatim-load-") as tmp:
        with running_server(Path(tmp), "--workers", str(args.workers)) as (url, _):
            drive(url, 1, 3, questions)  # warm up
            rows = [drive(url, 1, args.seconds, questions),
                    drive(url, args.clients, args.seconds, questions)]
    ratio = rows[1]["throughput_rps"] / rows[0]["throughput_rps"]
    table = markdown_table(rows)
    command = f"python bench/bench_load.py --seconds {args.seconds:.0f} --workers {args.workers}"
    text = (f"# Load\n\n{provenance(command)}\n\n"
            f"{table}\n\nThroughput with {args.clients} clients: **{ratio:.2f} x** one client.\n")
    (ROOT / "bench" / "results" / "load.md").write_text(text)
    print(text)
    print(json.dumps({"rows": rows, "ratio": round(ratio, 2)}))


if __name__ == "__main__":
    main()

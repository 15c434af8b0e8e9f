"""A server's memory per indexed sentence, and its start-up time, on a real index.

Usage: python bench/bench_memory.py [--index bench/.cache/index-docs-python]

Starts `qa serve` on an empty data dir and on the given index (built by
`python bench/bench_docs.py`), each until /healthz answers, and reads their resident memory
after one question. The difference, less the vectors the index holds in FAISS (2 bytes per
dimension), divided by the sentences, is what each sentence costs the server beyond its
vectors (the catalog's rows, word positions, BM25 caches). Writes bench/results/memory.md.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import provenance, running_server

DIM = 384


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(data_dir: Path) -> tuple[float, float]:
    """Start-up seconds and resident MB after one answered question."""
    t = time.perf_counter()
    with running_server(data_dir, "--no-seeds", timeout=600) as (url, proc):
        started = time.perf_counter() - t
        httpx.post(f"{url}/v1/answer", json={"question": "How do I open a file?"}, timeout=60)
        time.sleep(2)  # the background analysis of sentences settles
        return started, rss_mb(proc.pid)


def main() -> None:
    """Measure an empty server and one on the index; write the per-sentence figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path,
                        default=ROOT / "bench" / ".cache" / "index-docs-python")
    args = parser.parse_args()
    db = sqlite3.connect(args.index / "verbatim.sqlite3")
    sentences = db.execute("SELECT count(*) FROM sentences WHERE quotable").fetchone()[0]
    passages = db.execute("SELECT count(*) FROM passages").fetchone()[0]
    db.close()
    with tempfile.TemporaryDirectory() as empty:
        empty_start, empty_rss = measure(Path(empty))
    start, rss = measure(args.index)
    vectors_mb = (sentences + passages) * DIM * 2 / 1e6
    per = (rss - empty_rss - vectors_mb) * 1e6 / max(sentences, 1)
    lines = ["# Server memory and start-up", "",
             provenance(f"python bench/bench_memory.py --index {args.index.relative_to(ROOT)}"),
             "", "| server | start-up s | resident MB |", "|---|---|---|",
             f"| empty index | {empty_start:.1f} | {empty_rss:.0f} |",
             f"| {sentences:,} sentences, {passages:,} passages | {start:.1f} | {rss:.0f} |",
             "", f"Vectors in FAISS (float16): {vectors_mb:.0f} MB. Beyond its vectors each "
             f"sentence costs the server {per / 1000:.1f} KB.", ""]
    text = "\n".join(lines)
    (ROOT / "bench" / "results" / "memory.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

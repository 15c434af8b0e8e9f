"""Soak: mixed questions and writes against a real `qa serve` for a few minutes on loopback.

Usage: python bench/soak.py [--seconds 180] [--readers 4]
Counts errors, checks that every acknowledged write is reflected at the end (no lost or
resurrected documents), and samples the server's memory. Writes bench/results/soak.md.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_core import markdown_table, rss_mb  # noqa: E402
from qa.evaluation import load_jsonl  # noqa: E402
from tests.couriers import make_doc  # noqa: E402
from tests.live_server import running_server  # noqa: E402


def main() -> None:
    """Run the soak and write its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--readers", type=int, default=4)
    args = parser.parse_args()
    questions = [q.question for q in load_jsonl(ROOT / "tests" / "data" / "seed_questions.jsonl")]
    stats = {"questions": 0, "question_errors": 0, "adds": 0, "updates": 0, "deletes": 0,
             "rebuilds": 0, "write_errors": 0}
    expected: dict[str, str] = {}  # doc_id -> text, as acknowledged by the server
    lock = threading.Lock()
    stop = threading.Event()

    def read(url: str, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=url, timeout=60) as client:
            while not stop.is_set():
                q = rng.choice(questions)
                try:
                    if rng.random() < 0.5:
                        ok = client.post("/v1/answer", json={"question": q}).status_code == 200
                    else:
                        ok = client.post("/v1/chat", json={"messages": [
                            {"role": "user", "content": q}]}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    stats["questions"] += 1
                    stats["question_errors"] += not ok

    def write(url: str) -> None:
        rng = random.Random(7)
        n = 0
        with httpx.Client(base_url=url, timeout=300) as client:
            while not stop.is_set():
                roll = rng.random()
                try:
                    if roll < 0.55 or not expected:
                        doc = make_doc(f"soak{n}", sentences=rng.randint(5, 40))
                        n += 1
                        r = client.post("/v1/documents", json={"documents": [doc]})
                        kind = "adds"
                        if r.status_code == 200:
                            expected[doc["doc_id"]] = doc["text"]
                    elif roll < 0.8:
                        doc_id = rng.choice(sorted(expected))
                        doc = make_doc(doc_id + "v" + str(n), sentences=rng.randint(5, 40))
                        n += 1
                        doc["doc_id"] = doc_id
                        r = client.post("/v1/documents", json={"documents": [doc]})
                        kind = "updates"
                        if r.status_code == 200:
                            expected[doc_id] = doc["text"]
                    elif roll < 0.98:
                        doc_id = rng.choice(sorted(expected))
                        r = client.delete(f"/v1/documents/{doc_id}")
                        kind = "deletes"
                        if r.status_code == 200:
                            expected.pop(doc_id)
                    else:
                        r = client.post("/v1/index/rebuild")
                        kind = "rebuilds"
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok, kind = False, "adds"
                with lock:
                    stats[kind] += 1
                    stats["write_errors"] += not ok
                time.sleep(0.2)

    memory: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="verbatim-soak-") as tmp:
        with running_server(Path(tmp)) as (url, server):
            seeds = {d["doc_id"]: None for d in httpx.get(f"{url}/v1/documents").json()[
                "documents"]}
            threads = [threading.Thread(target=read, args=(url, i)) for i in range(args.readers)]
            threads.append(threading.Thread(target=write, args=(url,)))
            start = time.monotonic()
            for t in threads:
                t.start()
            while time.monotonic() - start < args.seconds:
                memory.append((time.monotonic() - start, rss_mb(server.pid)))
                print(f"{memory[-1][0]:6.0f} s  RSS {memory[-1][1]:6.0f} MB  {stats}",
                      file=sys.stderr)
                time.sleep(min(10.0, args.seconds / 10))
            stop.set()
            for t in threads:
                t.join()
            memory.append((time.monotonic() - start, rss_mb(server.pid)))
            present = {d["doc_id"] for d in httpx.get(f"{url}/v1/documents").json()["documents"]}
            texts_ok = sum(httpx.get(f"{url}/v1/documents/{d}").json()["text"] == text
                           for d, text in expected.items() if d in present)
            health = httpx.get(f"{url}/healthz").json()
    want = set(expected) | set(seeds)
    warm = next((m for t, m in memory if t >= args.seconds * 0.2), memory[0][1])
    row = {"seconds": round(args.seconds), "readers": args.readers, **stats,
           "lost_documents": len(want - present), "unexpected_documents": len(present - want),
           "stale_texts": len(expected) - texts_ok,
           "index_consistent": health["vectors"] == health["sentences"],
           "rss_start_mb": round(memory[0][1]), "rss_after_warmup_mb": round(warm),
           "rss_end_mb": round(memory[-1][1]),
           "growth_after_warmup_mb": round(memory[-1][1] - warm)}
    table = markdown_table([row])
    out = ROOT / "bench" / "results" / "soak.md"
    out.write_text("# Soak\n\nCommand: `python bench/soak.py --seconds "
                   f"{round(args.seconds)}`\n\n{table}\n")
    print(table)
    print(json.dumps(row))


if __name__ == "__main__":
    main()

"""Soak: mixed questions and writes against a real `qa serve` for a few minutes on loopback.

Usage: python bench/soak.py [--seconds 180] [--readers 4] [--hostile]
Counts errors, checks that every acknowledged write is reflected at the end (no lost or
resurrected documents), and samples the server's memory. With --hostile, attackers join after
a quiet first fifth: questions of made-up words, slowloris connections, chats of long turns and
PDF bombs; the normal questions' p95 latency is reported for the quiet part and the rest, and
the writer holds the corpus to a steady size so that memory measures the attackers alone.
Warm-up then lasts a tenth more, the attack's first round: the model's memory arena grows once
to the largest inputs it has been given (long chats), and that step is a bound, not a leak.
Writes bench/results/soak.md (soak-hostile.md with --hostile).
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_core import markdown_table, rss_mb
from bench.harness import make_doc, provenance, running_server
from qa.app.evaluation import load_jsonl


def main() -> None:
    """Run the soak and write its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--hostile", action="store_true", help="mix in hostile clients")
    args = parser.parse_args()
    quiet_until = args.seconds * 0.2 if args.hostile else args.seconds
    latencies: dict[str, list[float]] = {"quiet": [], "hostile": []}
    hostile_stats = {"junk_questions": 0, "slow_connections": 0, "long_chats": 0,
                     "bombs_refused": 0, "hostile_5xx": 0}
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
                t0 = time.monotonic()
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
                    phase = "quiet" if t0 - start_at[0] < quiet_until else "hostile"
                    latencies[phase].append(time.monotonic() - t0)

    def attack(url: str, seed: int) -> None:
        """One hostile client: made-up words, long chats, slow connections and PDF bombs."""
        from bench.harness import pdf_bomb

        rng = random.Random(seed)
        port = int(url.rsplit(":", 1)[1])
        bomb = pdf_bomb(pages=600, chars_per_page=20_000)  # 12 M characters of text
        slow: list[socket.socket] = []
        while time.monotonic() - start_at[0] < quiet_until and not stop.is_set():
            time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=120) as client:
            while not stop.is_set():
                roll = rng.random()
                kind, status = "junk_questions", 200
                try:
                    if roll < 0.5:
                        junk = " ".join("".join(rng.choice("bcdfghjklmnpqrstvwz") for _ in
                                                range(rng.randint(4, 12))) for _ in range(180))
                        status = client.post("/v1/answer", json={"question": junk[:2000]}
                                             ).status_code
                    elif roll < 0.8:
                        kind = "long_chats"
                        turns = [{"role": "user" if i % 2 == 0 else "assistant",
                                  "content": " ".join(f"w{rng.randint(0, 10**6)}"
                                                      for _ in range(2400))[:20_000]}
                                 for i in range(7)] + [{"role": "user", "content": "Why?"}]
                        status = client.post("/v1/chat", json={"messages": turns}).status_code
                    elif roll < 0.97:
                        kind = "slow_connections"
                        s = socket.create_connection(("127.0.0.1", port))
                        s.sendall(b"POST /v1/answer HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                        slow.append(s)
                        if len(slow) > 200:
                            slow.pop(0).close()
                    else:
                        kind = "bombs_refused"
                        status = client.post("/v1/documents", files=[
                            ("files", (f"bomb{rng.randint(0, 9)}.pdf", bomb,
                                       "application/pdf"))]).status_code
                        if status != 422:
                            kind = "hostile_5xx" if status >= 500 else kind
                except (httpx.HTTPError, OSError):
                    pass
                with lock:
                    hostile_stats[kind] += 1
                    hostile_stats["hostile_5xx"] += status >= 500
                time.sleep(0.05)
        for s in slow:
            s.close()

    # With attackers the writer holds the corpus to a steady size (an add past it becomes an
    # update), so the server's memory tells what the attackers cost, not what the corpus grew.
    max_documents = 25 if args.hostile else 10**9

    def write(url: str) -> None:
        rng = random.Random(7)
        n = 0
        with httpx.Client(base_url=url, timeout=300) as client:
            while not stop.is_set():
                roll = rng.random()
                try:
                    if (roll < 0.55 or not expected) and len(expected) < max_documents:
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
    start_at = [time.monotonic()]
    with tempfile.TemporaryDirectory(prefix="verbatim-soak-") as tmp:
        with running_server(Path(tmp)) as (url, server):
            seeds = {d["doc_id"]: None for d in httpx.get(f"{url}/v1/documents").json()[
                "documents"]}
            threads = [threading.Thread(target=read, args=(url, i)) for i in range(args.readers)]
            threads.append(threading.Thread(target=write, args=(url,)))
            if args.hostile:
                threads += [threading.Thread(target=attack, args=(url, 100 + i))
                            for i in range(2)]
            start = start_at[0] = time.monotonic()
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
    warm_until = args.seconds * (0.3 if args.hostile else 0.2)
    warm = next((m for t, m in memory if t >= warm_until), memory[0][1])
    row = {"seconds": round(args.seconds), "readers": args.readers, **stats,
           "lost_documents": len(want - present), "unexpected_documents": len(present - want),
           "stale_texts": len(expected) - texts_ok,
           "index_consistent": health["vectors"] == health["sentences"],
           "rss_start_mb": round(memory[0][1]), "rss_after_warmup_mb": round(warm),
           "rss_end_mb": round(memory[-1][1]),
           "growth_after_warmup_mb": round(memory[-1][1] - warm)}
    for phase, values in latencies.items():
        if values:
            row[f"{phase}_p95_ms"] = round(float(np.percentile(values, 95)) * 1000, 1)
    if args.hostile:
        row.update(hostile_stats)
    table = markdown_table([row])
    name = "soak-hostile.md" if args.hostile else "soak.md"
    flag = " --hostile" if args.hostile else ""
    out = ROOT / "bench" / "results" / name
    command = f"python bench/soak.py --seconds {round(args.seconds)}{flag}"
    out.write_text(f"# Soak\n\n{provenance(command)}\n\n{table}\n")
    print(table)
    print(json.dumps(row))


if __name__ == "__main__":
    main()

"""Filters on a real manual: does a question limited to 1% of the documents still get that 1%'s
best answer, and what does the filter cost?

Usage: python bench/bench_filters.py [--manual postgresql] [--runs 3]

Reuses the index `bench/bench_docs.py --manual M` builds (run that first). For each answerable
question of the manual's set, the filter keeps the page the answer is on plus random other pages
up to 1% of the manual. Compared: the question unfiltered; filtered as Verbatim does it (the
search runs among the kept documents); and the naive way, the unfiltered top candidates with the
other documents dropped afterwards. Reported: the share of questions whose right page is cited
in the top three, and the answer's latency (p50, p95) with and without the filter. Writes
bench/results/filters-<manual>.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_docs import CACHE, MANUALS
from bench.harness import provenance
from qa.app.evaluation import load_jsonl, same_file
from qa.app.service import Verbatim
from qa.config import Settings

SHARE = 0.01


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile of a list of timings."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    """Ask each question unfiltered, filtered inside retrieval, and filtered after it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manual", choices=sorted(MANUALS), default="postgresql")
    parser.add_argument("--runs", type=int, default=3, help="timed repetitions per question")
    parser.add_argument("--limit", type=int, default=None, help="ask only the first N")
    args = parser.parse_args()
    index = CACHE / f"index-docs-{args.manual}"
    if not (index / "verbatim.sqlite3").exists():
        sys.exit(f"no index at {index}: run python bench/bench_docs.py --manual {args.manual}")
    questions = [q for q in load_jsonl(MANUALS[args.manual][2]) if not q.unanswerable]
    questions = questions[:args.limit]
    service = Verbatim(Settings(data_dir=index))
    service.warm_up()
    sources = {doc_id: source for doc_id, (source, _) in service.indexer.catalog.metadata().items()}
    ids = sorted(sources)
    keep = max(1, round(SHARE * len(ids)))
    sentences = len(service.indexer.catalog)
    rng = random.Random(0)
    hits = {"unfiltered": 0, "filtered (Verbatim)": 0, "dropped after top-k": 0}
    timings: dict[str, list[float]] = {"unfiltered": [], "filtered (Verbatim)": []}
    kept_sentences = []
    for q in questions:
        gold = [d for d in ids if same_file(sources[d], q.source or "")]
        if not gold:
            continue
        allowed = set(gold) | set(rng.sample(ids, keep - len(gold)))
        kept_sentences.append(len(service.indexer.catalog.rows_of(allowed)[0]))
        where = {"doc_id": {"in": sorted(allowed)}}
        for name, spec in (("unfiltered", None), ("filtered (Verbatim)", where)):
            for _ in range(args.runs):
                t = time.perf_counter()
                result = service.ask(q.question, top_k=3, abstain=False, where=spec)
                timings[name].append((time.perf_counter() - t) * 1000)
            hits[name] += any(a.citation.doc_id in gold for a in result.answers[:3])
        wide = service.ask(q.question, top_k=20, abstain=False)  # the most an answer lists
        dropped = [a for a in wide.answers if a.citation.doc_id in allowed]
        hits["dropped after top-k"] += any(a.citation.doc_id in gold for a in dropped[:3])
    asked = len(kept_sentences)
    lines = [f"# Filters: {args.manual} manual, 1% of its pages", "",
             provenance(f"python bench/bench_filters.py --manual {args.manual}"), "",
             f"{len(ids)} pages, {sentences:,} quotable sentences; {asked} answerable questions, "
             f"each limited to its answer's page and {keep - 1} random others ({keep} pages, "
             f"{statistics.mean(kept_sentences):.0f} sentences on average).", "",
             "| how | right page in the top 3 | p50 ms | p95 ms |", "|---|---|---|---|"]
    for name, hit in hits.items():
        times = timings.get(name)
        shown = (f"{statistics.median(times):.0f} | {percentile(times, 0.95):.0f}" if times
                 else "- | -")
        lines.append(f"| {name} | {hit}/{asked} ({hit / max(asked, 1):.2f}) | {shown} |")
    text = "\n".join(lines) + "\n"
    (ROOT / "bench" / "results" / f"filters-{args.manual}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

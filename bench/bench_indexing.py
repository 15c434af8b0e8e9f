"""Indexing pace: texts embedded per second while adding documents, against the model alone.

Usage: python bench/bench_indexing.py [--docs 150]
The model alone encodes exactly the texts the indexer embeds (sentences as "title: sentence",
passages, and each word of the sentences), in one batch call, with the same runtime; indexing
adds chunking, SQLite, FTS5 and FAISS on top. Writes bench/results/indexing.md. Target: >= 0.8x.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_core import DEFAULT_SQUAD, markdown_table
from bench.harness import provenance
from qa.app.evaluation import load_squad
from qa.app.service import Verbatim
from qa.config import Settings
from qa.indexing.indexer import model_inputs


def texts_to_embed(docs: list, settings: Settings) -> list[str]:
    """The exact inputs indexing sends to the model: sentences, passages, and the words of
    the sentences (each once, into an empty index)."""
    inputs = model_inputs(docs, settings)
    return inputs.texts + sorted(inputs.words)


def main() -> None:
    """Time the model alone, then indexing, on the same documents, alternating twice."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--docs", type=int, default=150)
    args = parser.parse_args()
    docs, _ = load_squad(args.squad)
    docs = docs[:args.docs]
    best_model, best_index, sentences = 0.0, 0.0, 0
    with tempfile.TemporaryDirectory(prefix="verbatim-index-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "warm")
        service = Verbatim(settings)
        service.warm_up()
        texts = texts_to_embed(docs, settings)
        for run in range(2):
            t = time.perf_counter()
            service.embedder.encode(texts)
            best_model = max(best_model, len(texts) / (time.perf_counter() - t))
            fresh = Verbatim(Settings(data_dir=Path(tmp) / f"run{run}"),
                             embedder=service.embedder)
            fresh.warm_up()
            t = time.perf_counter()
            report = fresh.add_documents(docs)
            best_index = max(best_index, len(texts) / (time.perf_counter() - t))
            sentences = report.sentences_embedded
    ratio = best_index / best_model
    row = {"documents": len(docs), "sentences": sentences, "texts_embedded": len(texts),
           "model_alone_texts_per_s": round(best_model), "indexing_texts_per_s": round(best_index),
           "ratio": round(ratio, 2), "backend": service.health()["backend"]}
    table = markdown_table([row])
    command = f"python bench/bench_indexing.py --docs {args.docs}"
    text = (f"# Indexing pace\n\n{provenance(command)}\n\n{table}\n\n"
            f"Indexing runs at **{ratio:.2f} x** the model's own pace.\n")
    (ROOT / "bench" / "results" / "indexing.md").write_text(text)
    print(text)
    print(json.dumps(row))


if __name__ == "__main__":
    main()

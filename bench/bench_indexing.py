"""Indexing pace: quotable sentences indexed per second, against the bare model.

Usage: python bench/bench_indexing.py [--docs 150] [--manual python --pages 25]
Two ratios, on the same documents (SQuAD paragraphs, or pages of a Debian manual): indexing
against the model encoding exactly the texts the indexer embeds (sentences with their title and
section, passages, and each new word: what the rest of the pipeline costs), and against the
bare model encoding the stored quotable sentences alone (Verbatim's runtime, and
sentence-transformers running the same model with PyTorch: what embedding more than the
sentence costs). Settings such as VERBATIM_CONTEXT_VECTORS apply. Writes bench/results/indexing.md
(indexing-<manual>.md for a manual).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_core import DEFAULT_SQUAD, markdown_table
from bench.harness import provenance
from qa.app.evaluation import load_squad
from qa.app.service import Verbatim
from qa.config import Settings
from qa.indexing.indexer import model_inputs

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def texts_to_embed(docs: list, settings: Settings) -> list[str]:
    """The exact inputs indexing sends to the model: sentences, passages, and the words of
    the sentences (each once, into an empty index)."""
    inputs = model_inputs(docs, settings)
    return inputs.texts + sorted(inputs.words)


def plain_model() -> SentenceTransformer:
    """The bare model as sentence-transformers runs it (PyTorch, every core), warmed up."""
    import os

    import torch

    from embeddings.model import model_path

    torch.set_num_threads(os.cpu_count() or 1)
    model = SentenceTransformer(model_path(Settings().model), device="cpu")
    model.encode(["warming up"] * 8)
    return model


def main() -> None:
    """Time the model alone, then indexing, on the same documents, alternating twice."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--docs", type=int, default=150)
    parser.add_argument("--manual", choices=["python", "postgresql"], default=None,
                        help="pages of a Debian manual instead of SQuAD paragraphs")
    parser.add_argument("--pages", type=int, default=25)
    args = parser.parse_args()
    if args.manual:
        from bench.bench_docs import manual_pages
        from qa.reading.files import load_file

        pages = manual_pages(args.manual)
        step = max(1, len(pages) // args.pages)
        docs = [load_file(p, p.name) for p in pages[::step][:args.pages]]
    else:
        docs, _ = load_squad(args.squad)
        docs = docs[:args.docs]
    best_model, best_index, best_bare, best_plain, sentences = 0.0, 0.0, 0.0, 0.0, 0
    plain = plain_model()
    with tempfile.TemporaryDirectory(prefix="verbatim-index-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "warm")
        service = Verbatim(settings)
        service.warm_up()
        texts = texts_to_embed(docs, settings)
        inputs = model_inputs(docs, settings)
        bare = [s.text for _, chunks in inputs.chunked for s in chunks.sentences if s.quotable]
        for run in range(2):
            t = time.perf_counter()
            service.embedder.encode(texts)
            best_model = max(best_model, len(texts) / (time.perf_counter() - t))
            t = time.perf_counter()
            service.embedder.encode(bare)
            best_bare = max(best_bare, len(bare) / (time.perf_counter() - t))
            t = time.perf_counter()
            plain.encode(bare, batch_size=64)
            best_plain = max(best_plain, len(bare) / (time.perf_counter() - t))
            fresh = Verbatim(Settings(data_dir=Path(tmp) / f"run{run}"),
                             embedder=service.embedder)
            fresh.warm_up()
            t = time.perf_counter()
            report = fresh.add_documents(docs)
            best_index = max(best_index, len(texts) / (time.perf_counter() - t))
            sentences = report.sentences_embedded
    ratio = best_index / best_model
    per_sentence = best_index * sentences / len(texts)  # quotable sentences indexed per second
    against_bare = per_sentence / best_bare
    against_plain = per_sentence / best_plain
    row = {"documents": len(docs), "sentences": sentences, "texts_embedded": len(texts),
           "model_alone_texts_per_s": round(best_model), "indexing_texts_per_s": round(best_index),
           "ratio": round(ratio, 2), "bare_sentences_per_s": round(best_bare),
           "indexed_sentences_per_s": round(per_sentence),
           "against_bare": round(against_bare, 2),
           "sentence_transformers_per_s": round(best_plain),
           "against_sentence_transformers": round(against_plain, 2),
           "backend": service.health()["backend"]}
    table = markdown_table([row])
    corpus = f"--manual {args.manual} --pages {args.pages}" if args.manual else \
        f"--docs {args.docs}"
    command = f"python bench/bench_indexing.py {corpus}"
    text = (f"# Indexing pace\n\n{provenance(command)}\n\n{table}\n\n"
            f"Indexing runs at **{ratio:.2f} x** the model's pace on the texts it embeds, and "
            f"indexes quotable sentences at **{against_bare:.2f} x** the bare model's pace on "
            f"the same sentences alone ({len(texts) / max(sentences, 1):.1f} texts embedded "
            f"per quotable sentence); against sentence-transformers running the same model "
            f"on them (PyTorch, as the model is usually run): **{against_plain:.2f} x**.\n")
    name = f"indexing-{args.manual}.md" if args.manual else "indexing.md"
    (ROOT / "bench" / "results" / name).write_text(text)
    print(text)
    print(json.dumps(row))


if __name__ == "__main__":
    main()

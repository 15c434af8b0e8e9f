"""Choose how `context_vectors` composes a sentence's vector from its own and its heading path's.

Usage: python training/fit_context_weight.py [--pages 60] [--paragraphs 300]

With `context_vectors`, a sentence is embedded alone and its heading path ("title › section")
once per section; its vector is then composed as `sentence + w * path`, normalised, where
`w = context_weight * sqrt(len(path) / len(sentence))` (the model averages its token states,
so the longer part pulls the mean its way). This script measures, on pages of Debian's
Python and PostgreSQL manuals (`apt-get install python3.11-doc postgresql-doc-15`) and on
SQuAD paragraphs, how close composed vectors come to the model's own vector of
"title › section: sentence" (mean cosine) for several weights, with and without the length
term, and the same for passages derived from their sentences (`derive_passages`). Nothing is
fitted but the two constants; the figures are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_docs import manual_pages
from qa.app.evaluation import load_squad
from qa.app.service import Verbatim
from qa.config import Settings
from qa.indexing.indexer import document_vectors, model_inputs, passage_vectors
from qa.reading.files import load_file
from training.squad_index import CACHE, DEFAULT_SQUAD


def corpus(name: str, count: int) -> list:
    """A fixed random sample of a manual's pages, or of SQuAD's paragraphs."""
    if name == "squad":
        docs, _ = load_squad(DEFAULT_SQUAD)
        random.Random(1).shuffle(docs)
        return docs[:count]
    pages = manual_pages(name)
    random.Random(1).shuffle(pages)
    return [load_file(p, p.name) for p in pages[:count]]


def cosine(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """Mean cosine of unit rows, row for row."""
    return float(np.mean(np.sum(np.vstack(a) * np.vstack(b), axis=1)))


def measure(service: Verbatim, docs: list, weights: list[float]) -> dict[str, float]:
    """Mean cosine of composed sentence and passage vectors to the model's joint ones."""
    settings = service.settings
    whole = model_inputs(docs, settings)
    fast = settings.model_copy(update={"context_vectors": True, "derive_passages": True})
    split = model_inputs(docs, fast)
    joint = service.embedder.encode(whole.texts)
    vectors = service.embedder.encode(split.texts)
    kept = [[i for i, m in enumerate(members) if m] for members in split.members]
    read = [joint[b:c][k] for (_, b, c), k in zip(whole.bounds, kept)]
    plain = [vectors[a:b] + vectors[rows] for (a, b, _), rows in zip(split.bounds, split.contexts)]
    out = {"sentences": float(sum(b - a for a, b, _ in whole.bounds)),
           "plain sum": cosine([p / np.linalg.norm(p, axis=1, keepdims=True) for p in plain],
                               [joint[a:b] for a, b, _ in whole.bounds])}
    for w in weights:
        composed = document_vectors(split, vectors, fast.model_copy(update={"context_weight": w}))
        out[f"w={w} x sqrt(len)"] = cosine([s for s, _ in composed],
                                           [joint[a:b] for a, b, _ in whole.bounds])
        if w == settings.context_weight:
            out["passages: composed"] = cosine([p[k] for (_, p), k in zip(composed, kept)], read)
            means = [passage_vectors(s, vectors[b:c], members)[k] for (s, _), (_, b, c), members, k
                     in zip(composed, split.bounds, split.members, kept)]
            out["passages: mean of sentences"] = cosine(means, read)
    return out


def main() -> None:
    """Measure every corpus and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--paragraphs", type=int, default=300)
    args = parser.parse_args()
    service = Verbatim(Settings(data_dir=CACHE / "context-weight", seeds_dir=CACHE / "none"))
    service.warm_up()
    for name, count in (("postgresql", args.pages), ("python", args.pages),
                        ("squad", args.paragraphs)):
        weights = sorted({1.0, 1.5, service.settings.context_weight})
        figures = measure(service, corpus(name, count), weights)
        print(name, ", ".join(f"{k}: {v:.4f}" if v < 10 else f"{k}: {v:.0f}"
                               for k, v in figures.items()))


if __name__ == "__main__":
    main()

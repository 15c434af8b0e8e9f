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

from bench.bench_docs import MANUALS
from qa.app.evaluation import load_squad
from qa.app.service import Verbatim
from qa.config import Settings
from qa.indexing.indexer import SentenceParts, model_inputs, passage_vectors, with_context
from qa.reading.files import load_file
from training.squad_index import CACHE, DEFAULT_SQUAD


def corpus(name: str, count: int) -> list:
    """A fixed random sample of a manual's pages, or of SQuAD's paragraphs."""
    if name == "squad":
        docs, _ = load_squad(DEFAULT_SQUAD)
    else:
        root = MANUALS[name][0]
        if not root.is_dir():
            sys.exit(f"{root} is missing: apt-get install {MANUALS[name][1]}")
        docs = sorted(p for p in root.rglob("*.html")
                      if not p.relative_to(root).parts[0].startswith("_"))
    random.Random(1).shuffle(docs)
    return docs[:count] if name == "squad" else [load_file(p, p.name) for p in docs[:count]]


def unit(rows: np.ndarray) -> np.ndarray:
    """Scale rows to length one."""
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


def measure(service: Verbatim, docs: list, weights: list[float]) -> dict[str, float]:
    """Mean cosine of composed sentence and passage vectors to the model's joint ones."""
    whole = model_inputs(docs, service.settings)
    split = model_inputs(docs, service.settings.model_copy(
        update={"context_vectors": True, "derive_passages": True}))
    encode = service.embedder.encode
    joint_s, joint_p, composed, plain, derived = [], [], {w: [] for w in weights}, [], []
    for (a, b, c), (a2, b2, _), rows, members in zip(whole.bounds, split.bounds,
                                                     split.contexts, split.members):
        if a == b:
            continue
        bare, paths = encode(split.texts[a2:b2]), encode([split.texts[i] for i in rows])
        chars = np.array([len(t) for t in split.texts[a2:b2]], np.float32)
        path_chars = np.array([len(split.texts[i]) for i in rows], np.float32)
        joint_s.append(encode(whole.texts[a:b]))
        plain.append(unit(bare + paths))
        for w in weights:
            composed[w].append(with_context(bare, paths, w, chars, path_chars))
        read = encode(whole.texts[b:c])
        kept = [i for i, m in enumerate(members) if m]
        shipped = service.settings.context_weight
        whole_read = read[[i for i, m in enumerate(members) if not m]]
        parts = SentenceParts(bare, paths, chars, path_chars, shipped)
        mine = passage_vectors(composed[shipped][-1], whole_read, members, parts)
        mean = passage_vectors(composed[shipped][-1], whole_read, members)
        joint_p.append(read[kept])
        derived.append(np.stack([mine[kept], mean[kept]]))
    js, jp = np.vstack(joint_s), np.vstack(joint_p)
    out = {"sentences": float(len(js)), "plain sum": float(np.mean(np.sum(np.vstack(plain) * js, 1)))}
    for w in weights:
        out[f"w={w} x sqrt(len)"] = float(np.mean(np.sum(np.vstack(composed[w]) * js, 1)))
    both = np.concatenate(derived, axis=1)
    out["passages: composed"] = float(np.mean(np.sum(both[0] * jp, 1)))
    out["passages: mean of sentences"] = float(np.mean(np.sum(both[1] * jp, 1)))
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

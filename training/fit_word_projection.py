"""Fit the word-vector projection (`embeddings/word_projection.npz`) on a SQuAD file's words.

Usage: python training/fit_word_projection.py [../shared/data/squad-dev-public.json] [--dims 64]

Every content word of the file's paragraphs and questions is embedded by the model on its own;
the projection keeps the mean and the `--dims` directions of largest variance (PCA).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embeddings.words import PROJECTION_FILE
from qa.app.evaluation import load_squad
from qa.config import Settings
from qa.indexing.runtime import make_embedder
from qa.reading.chunking import split_sentences
from qa.text.words import vocabulary
from training.squad_index import DEFAULT_SQUAD


def main() -> None:
    """Embed the vocabulary, fit the PCA, save it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("squad", nargs="?", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--dims", type=int, default=64)
    args = parser.parse_args()
    docs, questions = load_squad(args.squad)
    words: set[str] = set()
    for doc in docs:
        for sentence in split_sentences(doc.text):
            words.update(vocabulary(sentence.text))
    for q in questions:
        words.update(vocabulary(q.question))
    embedder = make_embedder(Settings())
    embedder.warm_up()
    vectors = embedder.encode(sorted(words))
    mean = vectors.mean(axis=0)
    _, values, directions = np.linalg.svd(vectors - mean, full_matrices=False)
    kept = float((values[:args.dims] ** 2).sum() / (values ** 2).sum())
    np.savez(PROJECTION_FILE, mean=mean.astype(np.float32),
             components=directions[:args.dims].astype(np.float32))
    print(f"{len(words)} words, {args.dims} directions keep {kept:.0%} of the variance; "
          f"wrote {PROJECTION_FILE}")


if __name__ == "__main__":
    main()

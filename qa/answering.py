"""Answering: rank candidate sentences, merge near-duplicates, attach citations, decide to abstain."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.retrieval import SIGNALS, Candidates, Query, Retriever
from qa.store import SentenceRow, query_terms

PARAMS_FILE = Path(__file__).with_name("ranking_params.json")
_NORM = re.compile(r"[^\w]+", re.UNICODE)


@dataclass(frozen=True)
class RankingParams:
    """Signal weights and the confidence calibration, learned by `bench/fit_ranking.py`."""

    weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
    # Logistic coefficients over the confidence features, then the intercept.
    calibration: tuple[float, ...] = (1.0, 8.0, 4.0, 2.0, 1.0, -6.0)

    @classmethod
    def load(cls, path: Path = PARAMS_FILE) -> "RankingParams":
        """Read learned parameters, falling back to the defaults when none were saved."""
        if not path.exists():
            return cls()
        data = json.loads(path.read_text())
        return cls(tuple(data["weights"]), tuple(data["calibration"]))


@dataclass
class Citation:
    """Where a quoted sentence stands: `document_text[start:end]` is the quote."""

    doc_id: str
    title: str
    passage_id: int
    start: int
    end: int
    passage: str
    passage_start: int


@dataclass
class Answer:
    """One quoted sentence with its score and source(s)."""

    text: str
    score: float
    citation: Citation
    also_in: list[Citation] = field(default_factory=list)


@dataclass
class Result:
    """The answer to a question: the best sentence, or an abstention, plus ranked alternatives."""

    question: str
    answer: str | None
    confidence: float
    abstained: bool
    answers: list[Answer]


def _zscores(column: np.ndarray) -> np.ndarray:
    """Put a signal on a per-question scale, so signals of different units can be summed."""
    std = float(column.std())
    return (column - float(column.mean())) / std if std > 1e-6 else np.zeros_like(column)


def coverage(terms: list[str], text: str) -> float:
    """Measure the share of question words a sentence (with its title) contains."""
    if not terms:
        return 0.0
    words = set(_NORM.sub(" ", text.lower()).split())
    hits = sum(1 for t in terms if t in words or any(w.startswith(t[:5]) for w in words
                                                      if len(t) >= 5))
    return hits / len(terms)


def near_duplicate_key(text: str) -> frozenset[str]:
    """Reduce a sentence to its words, so captions repeated with tiny edits compare equal."""
    return frozenset(_NORM.sub(" ", text.lower()).split())


def is_near_duplicate(a: frozenset[str], b: frozenset[str]) -> bool:
    """Treat sentences sharing nearly all their words as the same quote."""
    if not a or not b:
        return a == b
    return len(a & b) / len(a | b) >= 0.85


class Answerer:
    """Turns retrieved candidates into a cited answer, or abstains."""

    def __init__(self, retriever: Retriever, params: RankingParams | None = None,
                 abstain_below: float = 0.25) -> None:
        """Use learned ranking parameters unless others are given."""
        self.retriever = retriever
        self.params = params or RankingParams.load()
        self.abstain_below = abstain_below

    def features(self, query: Query, candidates: Candidates, titles: dict[str, str]
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Compute each candidate's ranking score and its confidence features."""
        signals = candidates.signals
        z = np.column_stack([_zscores(signals[:, j]) for j in range(signals.shape[1])])
        fused = z @ np.asarray(self.params.weights[:len(SIGNALS)], dtype=np.float32)
        terms = query_terms(query.text)
        cover = np.array([coverage(terms, f"{titles.get(r.doc_id, '')} {r.text}")
                          for r in candidates.rows], dtype=np.float32)
        order = np.sort(fused)[::-1]
        best_other = np.where(fused >= order[0], order[1] if len(order) > 1 else order[0],
                              order[0])
        margin = fused - best_other
        conf_features = np.column_stack([
            fused / max(len(SIGNALS), 1), signals[:, 0], signals[:, 1], cover,
            np.clip(margin, -3, 3)])
        return fused, conf_features

    def confidence(self, conf_features: np.ndarray) -> np.ndarray:
        """Map features to the probability that a sentence is a right answer."""
        coef = np.asarray(self.params.calibration, dtype=np.float32)
        logits = conf_features @ coef[:-1] + coef[-1]
        return 1.0 / (1.0 + np.exp(-logits))

    def answer(self, question: str, top_k: int = 3, context: str = "") -> Result:
        """Answer a question with the best verbatim sentence and ranked alternatives."""
        query = Query(question, context)
        candidates = self.retriever.retrieve(query)
        if not len(candidates):
            return Result(question, None, 0.0, True, [])
        store = self.retriever.indexer.store
        titles = store.titles({r.doc_id for r in candidates.rows})
        fused, conf_features = self.features(query, candidates, titles)
        probs = self.confidence(conf_features)
        ranked = np.argsort(-fused, kind="stable")
        best = float(probs[ranked[0]])
        if best < self.abstain_below:
            return Result(question, None, round(best, 4), True, [])
        answers = self._group(candidates.rows, ranked, probs, titles, top_k)
        return Result(question, answers[0].text, round(best, 4), False, answers)

    def _group(self, rows: list[SentenceRow], ranked: np.ndarray, probs: np.ndarray,
               titles: dict[str, str], top_k: int) -> list[Answer]:
        """Keep the top_k distinct sentences; near-duplicates add their sources to the first."""
        store = self.retriever.indexer.store
        kept: list[tuple[frozenset[str], list[SentenceRow], float]] = []
        for i in ranked:
            row = rows[int(i)]
            key = near_duplicate_key(row.text)
            for k, group, _ in kept:
                if is_near_duplicate(k, key):
                    group.append(row)
                    break
            else:
                if len(kept) >= top_k:
                    continue
                kept.append((key, [row], float(probs[int(i)])))
        passages = store.passages_by_ord((r.doc_id, r.passage_ord) for _, g, _ in kept for r in g)
        texts = store.text_slices((p.doc_id, p.start, p.end) for p in passages.values())

        def cite(r: SentenceRow) -> Citation:
            p = passages[(r.doc_id, r.passage_ord)]
            return Citation(r.doc_id, titles.get(r.doc_id, r.doc_id), p.ord, r.start, r.end,
                            texts[(p.doc_id, p.start, p.end)], p.start)

        return [Answer(g[0].text, round(score, 4), cite(g[0]), [cite(r) for r in g[1:]])
                for _, g, score in kept]

"""Answering: rank candidate sentences, merge near-duplicates, attach citations, decide to abstain."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from qa.answering import defaults, features, openers, verification
from qa.answering.retrieval import Candidates, Query, Retriever
from qa.answering.verification import Evidence, Verifier
from qa.config import ABSTAIN_BELOW, CONFIDENT_ABOVE, VERIFY_BELOW
from qa.indexing.catalog import Catalog
from qa.indexing.indexer import Snapshot
from qa.reading.documents import Document
from qa.reading.layout import context_parts, store_context
from qa.storage.records import SentenceRow
from qa.text.words import code_names, near_duplicate_key

PARAMS_FILE = Path(__file__).with_name("ranking_params.json")
# The ranking score, its lead over the best other candidate, that lead times the sentence's
# cosine, then ranking features by name.
CONFIDENCE_FEATURES = ("score", "margin", "margin_dense", "s_dense", "p_dense", "coverage",
                       "meaning", "missing_names")
NEAR_DUPLICATE = 0.85  # share of words two sentences must have in common to be one quote
UNMET_NAME_CONFIDENCE = 0.5  # of the abstention threshold: a quote about another code name
FOLLOWS_CHARS = 1200  # the most of what a sentence ending in a colon introduces shown with it
POSSIBLE_AT_MOST = 0.99  # of the confident band's threshold: a follow-up its quote bears out less


# Weights set as product rules, not learned: SQuAD's questions never name an option, and a
# documentation set has too few that do to fit one. A question that names "-s" or "%j" asks
# about that entry: about four standard deviations of the sentence's meaning signal, so that
# the entry's sentences stand above a neighbour's that repeats the question's other words.
# A question asking which setting, function or command does something ("Which setting
# controls ...?") is answered by the first sentence of that thing's entry, which says what it
# does: a lift of about one standard deviation of the meaning signal over the entry's other
# sentences and over prose that names the thing in passing (`features._Asked.names_thing`).
# A sentence that only sends the reader elsewhere ("For more information, see SAVEPOINT.")
# answers nothing, though in a glossary entry it stands under the very term asked about: it
# goes 1.5 lower. SQuAD has no such sentences and the documentation sets' answers never were
# one, so nothing could fit it.
RULE_WEIGHTS = {"names_entry": 8.0, "defines_thing": 1.0, "points_elsewhere": -1.5}


@dataclass(frozen=True)
class RankingParams:
    """Feature weights and the confidence calibration, learned by `training/fit_ranking.py`."""

    weights: dict[str, float] = field(default_factory=lambda: {
        "z_s_dense": 1.0, "z_p_dense": 1.0, "z_s_lex": 1.0, "z_p_lex": 1.0})
    confidence: dict[str, float] = field(default_factory=lambda: {
        "score": 0.5, "margin": 1.0, "s_dense": 8.0, "p_dense": 4.0, "coverage": 2.0,
        "bias": -7.0})

    @classmethod
    def load(cls, path: Path = PARAMS_FILE) -> RankingParams:
        """Read learned parameters, falling back to the defaults when none were saved."""
        if not path.exists():
            return cls()
        data = json.loads(path.read_text())
        return cls(dict(data["weights"]), dict(data["confidence"]))

    def weight_vector(self) -> np.ndarray:
        """Order the ranking weights like the feature columns (rules at their set weights)."""
        unknown = set(self.weights) - set(features.FEATURES)
        if unknown:
            raise ValueError(f"ranking parameters name unknown features: {sorted(unknown)}")
        weights = {**self.weights, **RULE_WEIGHTS}
        return np.array([weights.get(f, 0.0) for f in features.FEATURES], dtype=np.float32)

    def confidence_of(self, rows: np.ndarray) -> np.ndarray:
        """Map confidence features (columns in CONFIDENCE_FEATURES order) to probabilities."""
        coef = np.array([self.confidence.get(f, 0.0) for f in CONFIDENCE_FEATURES],
                        dtype=np.float32)
        logits = rows @ coef + self.confidence.get("bias", 0.0)
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))


# These records are also the API's response bodies (FastAPI reads dataclasses): the
# descriptions and bounds below are the published contract.
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


@dataclass
class Citation:
    """Where a quoted sentence stands: `document_text[start:end]` is the quote."""

    doc_id: str
    title: str
    passage_id: Annotated[int, Field(description="Index of the passage within its document.")]
    start: int
    end: int
    passage: Annotated[str, Field(description="The passage the sentence stands in.")]
    passage_start: Annotated[int, Field(
        description="Offset of the passage in the document text.")]
    section: Annotated[list[str], Field(
        description="The headings (and the term or table columns) the sentence stands under, "
                    "outermost first; empty for plain text.")] = field(default_factory=list)
    location: Annotated[dict[str, Any], Field(
        description="Where the sentence stands in the original file: `page` (a PDF's, from 1, "
                    "as a viewer counts; `pages` [first, last] when it runs over a page "
                    "break), `slide` (and `notes`: true in the speaker notes), `anchor` (the "
                    "HTML id nearest above it, as `#id`); empty when unknown."
                    )] = field(default_factory=dict)


@dataclass
class Answer:
    """One ranked, quoted sentence with its score and source(s)."""

    text: str
    score: Probability
    citation: Citation
    also_in: Annotated[list[Citation], Field(
        description="Other places where (nearly) the same sentence stands.")] = field(
        default_factory=list)
    follows: Annotated[str, Field(
        description="For a sentence ending in a colon (\"To rename an existing table:\"), the "
                    "code sample right after it in the document, verbatim: what it introduces; "
                    "empty otherwise.")] = ""


Band = Literal["confident", "possible", "none"]
BANDS = {"confident": "a confident answer", "possible": "a possible answer: check it against "
         "its source", "none": "no answer: the documents don't say"}


def band_of(confidence: float, abstain_below: float, confident_above: float) -> Band:
    """Which of the three bands a reader is shown (`BANDS`): the thresholds come from
    calibration data (docs/quality.md#bands)."""
    if confidence < abstain_below:
        return "none"
    return "confident" if confidence >= confident_above else "possible"


@dataclass
class Result:
    """The best sentence (or null when the documents don't answer) with ranked alternatives."""

    question: str
    answer: str | None
    confidence: Probability
    abstained: bool
    answers: list[Answer]
    band: Annotated[Band, Field(description="; ".join(f"{k}: {v}" for k, v in BANDS.items()))
                    ] = "none"


_COLUMN = {name: i for i, name in enumerate(features.FEATURES)}


def introduced(code: str) -> str:
    """A code sample as shown after the sentence that introduces it: whole lines, at most
    `FOLLOWS_CHARS` (a longer one is cut at the end of a line)."""
    code = code.strip()
    if len(code) > FOLLOWS_CHARS:
        head = code[:FOLLOWS_CHARS]
        code = head[:head.rfind("\n")] if "\n" in head else head
    return code.rstrip()


def verification_inputs(ranking: np.ndarray, matrix: np.ndarray, best: int) -> dict[str, float]:
    """The ranking's view of one candidate, by name, for the verifier."""
    values = dict(zip(CONFIDENCE_FEATURES, confidence_features(ranking, matrix)[best].tolist()))
    for name in ("coverage_idf", "phrases", "proximity", "answer_type"):
        values[name] = float(matrix[best, _COLUMN[name]])
    return values


def combine(calibrated: float, verified: float | None, verify_below: float) -> float:
    """One confidence from the ranking's calibration and the verifier's judgement.

    The calibration says how well the best sentence matches compared with the rest and in
    absolute terms: it tells off-topic questions apart. The verifier, trained on questions
    written to look answerable, says whether the sentence answers; it was fitted where half
    the questions have no answer, so its probability runs low on ordinary questions. It only
    overrules below `verify_below`, where it is sure enough: the confidence is then the lower
    of the two, and below the abstention threshold when `verify_below` is not above it.
    """
    if verified is None or verified >= verify_below:
        return calibrated
    return min(calibrated, verified)


def meaning_of(candidates: Candidates, i: int) -> dict[str, float]:
    """How close in meaning one candidate comes to each question word (see
    `Candidates.meaning`)."""
    if not candidates.meaning_terms:
        return {}
    return dict(zip(candidates.meaning_terms, candidates.meaning[i].tolist()))


def confidence_features(ranking: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Give each candidate its confidence row (CONFIDENCE_FEATURES order).

    Training (`training/fit_ranking.py`) calls this too, so the calibration is fitted on exactly
    what serving computes.
    """
    ordered = np.sort(ranking)[::-1]
    runner_up = ordered[1] if len(ordered) > 1 else ordered[0] - 1.0
    best_other = np.where(ranking >= ordered[0], runner_up, ordered[0])
    margin = np.clip(ranking - best_other, -5, 5)
    derived = {"score": ranking, "margin": margin,
               "margin_dense": margin * matrix[:, _COLUMN["s_dense"]]}
    return np.column_stack([derived[name] if name in derived else matrix[:, _COLUMN[name]]
                            for name in CONFIDENCE_FEATURES])


def is_near_duplicate(a: frozenset[str], b: frozenset[str]) -> bool:
    """Treat sentences sharing nearly all their words as the same quote."""
    if not a or not b:
        return a == b
    return len(a & b) / len(a | b) >= NEAR_DUPLICATE


class Answerer:
    """Turns retrieved candidates into a cited answer, or abstains."""

    def __init__(self, retriever: Retriever, params: RankingParams | None = None,
                 abstain_below: float = ABSTAIN_BELOW, verifier: Verifier | None = None,
                 verify_below: float = VERIFY_BELOW,
                 confident_above: float = CONFIDENT_ABOVE) -> None:
        """Use learned ranking parameters unless others are given; without a verifier,
        confidence comes from the ranking's calibration alone (see `combine`)."""
        self.retriever = retriever
        self.params = params or RankingParams.load()
        self.verifier = verifier
        self.verify_below = verify_below
        self._weights = self.params.weight_vector()
        self.abstain_below = abstain_below
        self.confident_above = confident_above
        self._asking = 0  # questions being answered right now
        self._asking_lock = threading.Lock()
        self.prepared = threading.Event()  # no background analysis left to do
        self.prepared.set()

    def prepare(self, texts: Iterable[str], catalog: Catalog, background: bool = False) -> int:
        """Analyse sentences ahead of questions: a question meeting a sentence first paid for
        its analysis (1.2 ms more per SQuAD question). Stops at the analysis cache's size.

        In the background it works only while no question is being answered, and lets go of
        the interpreter after every sentence (about 0.1 ms), so a question never waits for it.
        """
        done = 0
        try:
            for done, text in enumerate(texts, 1):
                features.analyse(text)
                near_duplicate_key(text)
                catalog.sentence_words(text)
                if done >= features.TRAITS_CACHE:
                    break
                if background:
                    time.sleep(0)  # a question waiting for the interpreter gets it now
                    while self._asking:
                        time.sleep(0.005)
        finally:
            if background:
                self.prepared.set()
        return done

    def rank(self, query: Query, candidates: Candidates, titles: dict[str, str]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Score every candidate for ranking; the feature matrix comes back for confidence,
        a default's sentence reading its entry's best match there, and which candidate each
        one stands on (`openers.apply_rules`)."""
        matrix = features.build(query.text, candidates, titles, query.context)
        ranking, stands_on = openers.apply_rules(query.text, candidates, matrix @ self._weights,
                                                 matrix)
        matrix = matrix[stands_on]
        comment = np.array([r.comment for r in candidates.rows], dtype=bool)
        if comment.any() and not comment.all() and self._confidence(
                ranking[~comment], matrix[~comment]).max() >= self.abstain_below:
            # Readers' comments are opinions, not the article's reporting: when the articles
            # answer with confidence, every comment ranks below them. Otherwise they compete.
            ranking[comment] -= float(ranking.max() - ranking.min()) + 1.0
        return ranking, matrix, stands_on

    def verify(self, query: Query, best: int, ranking: np.ndarray, matrix: np.ndarray,
               evidence: Evidence, candidates: Candidates, stand: int | None = None
               ) -> float | None:
        """The verifier's probability that the best-ranked sentence answers (None without a
        verifier): ranking finds what matches, this asks whether it answers. Word meanings
        are read from `stand`, the sentence whose match the best one stands on."""
        if self.verifier is None or query.context:
            # It learned from questions that stand alone; a follow-up ("Why not?") leans on
            # earlier turns it cannot read, and would look unanswerable to it.
            return None
        row = verification.row(query.text, evidence, verification_inputs(ranking, matrix, best),
                               candidates.idf,
                               meaning_of(candidates, best if stand is None else stand))
        return float(self.verifier.probability(row)[0])

    def _confidence(self, ranking: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """Turn candidates' scores and features into calibrated probabilities."""
        return self.params.confidence_of(confidence_features(ranking, matrix))

    def answer(self, question: str, top_k: int = 3, context: str = "",
               abstain: bool = True, where: dict | None = None,
               within: frozenset[str] | None = None) -> Result:
        """Answer a question with the best verbatim sentence and ranked alternatives, from the
        documents a filter (`where`) allows in the collections `within` (all when None)."""
        with self._asking_lock:
            self._asking += 1
        try:
            return self._answer(question, top_k, context, abstain, where, within)
        finally:
            with self._asking_lock:
                self._asking -= 1

    def _answer(self, question: str, top_k: int, context: str, abstain: bool,
                where: dict | None = None, within: frozenset[str] | None = None) -> Result:
        """Retrieve, rank, group, cite and verify (see `answer`).

        An abstention still carries the closest sentences: they are related, not an answer,
        and a script or a reader may want to see what the documents do say.
        """
        query = Query(question, context, where, within)
        with self.retriever.retrieve(query) as (view, candidates):  # citations from it too
            if not len(candidates):
                return Result(question, None, 0.0, True, [])
            titles = view.catalog.titles({r.doc_id for r in candidates.rows})
            ranking, matrix, stands_on = self.rank(query, candidates, titles)
            probs = self._confidence(ranking, matrix)
            ranked = np.argsort(-ranking, kind="stable")
            answers = self._group(view, candidates.rows, ranked, probs, titles, top_k)
            first, stand = int(ranked[0]), int(stands_on[ranked[0]])
            read = defaults.read_with_entry(candidates.rows, first, stand, candidates.opens)
        top = answers[0].citation
        evidence = Evidence(read, top.passage,
                            features.heading(top.title, store_context(top.section)))
        verified = self.verify(query, first, ranking, matrix, evidence, candidates, stand)
        best = combine(float(probs[first]), verified, self.verify_below)
        named = code_names(query.text)
        if named and len(verification.unmet_identifiers(query.text, evidence)) == len(named):
            # The question names code the quote's place never writes, not one of its names:
            # another function, option or package than the one asked about.
            best = min(best, UNMET_NAME_CONFIDENCE * self.abstain_below)
        if query.context and not verification.meets_own_words(query.text, evidence):
            # A follow-up answered from the earlier turn's words alone: nothing in the quote
            # holds what was asked now, so it is at most a possible answer, to check.
            best = min(best, POSSIBLE_AT_MOST * self.confident_above)
        best = round(best, 4)
        for a in answers:  # a lower-ranked answer never shows a higher score than the first
            a.score = min(a.score, best)
        abstained = best < self.abstain_below
        return Result(question, None if abstained and abstain else answers[0].text, best,
                      abstained, answers,
                      band_of(best, self.abstain_below, self.confident_above))

    def _group(self, view: Snapshot, rows: list[SentenceRow], ranked: np.ndarray,
               probs: np.ndarray, titles: dict[str, str], top_k: int) -> list[Answer]:
        """Keep the top_k distinct sentences; near-duplicates add their sources to the first."""
        kept: list[tuple[frozenset[str], list[SentenceRow], float]] = []
        for i in ranked:
            row = rows[int(i)]
            key = near_duplicate_key(row.text)
            size = len(key)
            for k, group, _ in kept:
                # Sets this different in size cannot overlap enough: skip the full comparison.
                if NEAR_DUPLICATE * len(k) <= size <= len(k) / NEAR_DUPLICATE and \
                        is_near_duplicate(k, key):
                    group.append(row)
                    break
            else:
                if len(kept) >= top_k:
                    continue
                kept.append((key, [row], float(probs[int(i)])))
        passages = {(r.doc_id, r.passage_ord): view.catalog.passage(r.doc_id, r.passage_ord)
                    for _, g, _ in kept for r in g}
        # A sentence that leads into a code sample ("To rename an existing table:") is shown
        # with it (`Answer.follows`), read from where its document's layout puts the code.
        # Each such document is read once ("To rename a column:", "To rename a table:").
        leads: dict[int, str] = {}
        docs: dict[str, Document | None] = {}
        for _, (r, *_), _ in kept:
            if not r.text.rstrip().endswith(":"):
                continue
            if r.doc_id not in docs:
                docs[r.doc_id] = view.store.get_document(r.doc_id)
            doc = docs[r.doc_id]
            code = doc.layout.code_after(r.end) if doc and doc.layout is not None else None
            if code is not None:
                leads[r.id] = introduced(doc.text[code[0]:code[1]])
        texts = view.store.text_slices((p.doc_id, p.start, p.end) for p in passages.values()
                                       if p is not None)

        def cite(r: SentenceRow) -> Citation:
            p = passages[(r.doc_id, r.passage_ord)]
            assert p is not None, "a quotable sentence always has a home passage"
            return Citation(r.doc_id, titles.get(r.doc_id, r.doc_id), p.ord, r.start, r.end,
                            texts[(p.doc_id, p.start, p.end)], p.start, context_parts(r.context),
                            json.loads(r.location) if r.location else {})

        answers, ceiling = [], 1.0
        for _, g, score in kept:
            ceiling = min(ceiling, score)  # a lower-ranked answer never shows a higher score
            answers.append(Answer(g[0].text, round(ceiling, 4), cite(g[0]),
                                  [cite(r) for r in g[1:]], leads.get(g[0].id, "")))
        return answers

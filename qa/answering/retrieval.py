"""Retrieval: find the sentences that may answer a question and measure how well each matches.

Candidates come from four searches (dense and BM25, over sentences and over passages), plus the
entries of any option or code the question names ("-s", "%j"); each candidate then gets every
signal, so the answerer can weigh them together.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from qa.answering.filters import select
from qa.config import CANDIDATES, PASSAGE_CANDIDATES
from qa.indexing.catalog import Catalog
from qa.indexing.indexer import Indexer, Snapshot
from qa.storage.records import SentenceRow
from qa.text.asked import named_page
from qa.text.words import named_keys, question_terms

SIGNALS = ("s_dense", "p_dense", "s_lex", "p_lex")
Lexical = tuple[dict[int, float], dict[int, float]]  # BM25 by sentence id, by passage id
# Sentences added for an option or code the question names ("-a"), at most: a manual of many
# commands has "-a" in dozens of them; the ones in documents the searches found come first.
NAMED_ENTRY_CANDIDATES = 40


@dataclass(frozen=True)
class Query:
    """What to search for: the question, plus earlier conversation when it is a follow-up."""

    text: str
    context: str = ""
    # Which documents may answer (a filter, `qa.answering.filters`); None: all of them.
    where: dict | None = field(default=None, compare=False, hash=False)
    # The collections the asker may read (an API key's scope); None: all of them.
    within: frozenset[str] | None = None

    @cached_property
    def terms(self) -> list[str]:
        """The words to match, the question's own first: BM25, rarity and meaning share them."""
        return question_terms(f"{self.text} {self.context}")


@dataclass
class Candidates:
    """Candidate sentences with one row of raw signals each (columns in SIGNALS order)."""

    rows: list[SentenceRow]
    signals: np.ndarray
    passage_rows: list[int]
    idf: dict[str, float] = field(default_factory=dict)  # how rare each question word is
    # How close in meaning each candidate comes to each question word: the best cosine of the
    # word's vector to any of the sentence's words (1 for the word itself). One row per
    # candidate, one column per word of `meaning_terms`.
    meaning_terms: tuple[str, ...] = ()
    meaning: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    # Whether each candidate opens its stretch of text (`Catalog.opens_entry`).
    opens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    # The first sentence of the page the question asks about ("What does the CLUSTER command
    # do?"; `Catalog.page_lead`), by its id; -1: none.
    page_lead: int = -1
    # The quotable sentence after each candidate under the same headings (`Catalog.next_said`).
    next_said: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        """Count candidates."""
        return len(self.rows)


def top_scored(scores: dict[int, float], k: int) -> list[int]:
    """The k best-scored ids, ties going to the first (at 100k sentences BM25 matches 2,000
    rows: numpy sorts them in 0.1 ms where heapq took 0.3)."""
    if len(scores) <= k:
        return list(scores)
    ids = np.fromiter(scores.keys(), dtype=np.int64, count=len(scores))
    values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
    return ids[np.argsort(-values, kind="stable")[:k]].tolist()


class Retriever:
    """Hybrid dense + lexical retrieval over the indexer's store and vector indexes."""

    def __init__(self, indexer: Indexer, sentences: int = CANDIDATES,
                 passages: int = PASSAGE_CANDIDATES,
                 lexical_budget: int | None = None) -> None:
        """Configure how many sentences and passages each search contributes."""
        self.indexer = indexer
        self.sentences = sentences
        self.passages = passages
        self.lexical_budget = lexical_budget
        # BM25 runs in SQLite, which releases the GIL: it overlaps with embedding the question.
        self._lexical_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bm25")

    def embed_query(self, query: Query) -> np.ndarray:
        """Embed a question; a follow-up leans on the earlier turn for what it refers to."""
        if not query.context:
            return self.indexer.embedder.encode_queries([query.text])[0]
        own, joined = self.indexer.embedder.encode_queries(
            [query.text, f"{query.context} {query.text}"])
        vector = own + joined
        return vector / max(float(np.linalg.norm(vector)), 1e-9)

    def meaning(self, view: Snapshot, query: Query, rows: list[SentenceRow]
                ) -> tuple[tuple[str, ...], np.ndarray]:
        """Measure how close each sentence comes to each question word in meaning (see
        `Candidates.meaning`), from the words' vectors.

        Only question words that some document holds have a vector: embedding the others
        would cost 0.4 ms each, as much as half the question.
        """
        catalog = view.catalog
        terms, positions = [], []
        for t in query.terms:
            at = catalog.word_position(t)
            if at is not None:
                terms.append(t)
                positions.append(at)
        if not terms or not rows:
            return (), np.zeros((len(rows), 0), np.float32)
        # Every distinct word of the candidates once, then each sentence's best per term; a
        # column of zeros heads each sentence's words, so one without known words gets 0.
        parts = [catalog.sentence_words(r.text) for r in rows]
        sizes = np.fromiter((len(p) + 1 for p in parts), dtype=np.int64, count=len(parts))
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        unique, inverse = np.unique(np.concatenate(parts), return_inverse=True)
        if not len(unique):
            return tuple(terms), np.zeros((len(rows), len(terms)), np.float32)
        matrix = np.zeros((len(terms), len(unique) + 1), np.float32)
        # einsum, not `@`: a BLAS product this size wakes OpenBLAS's threads, whose spinning
        # slowed the whole answer by a millisecond on 2 cores.
        matrix[:, 1:] = np.einsum("td,wd->tw", catalog.word_vectors[positions],
                                  catalog.word_vectors[unique])
        gather = np.zeros(int(sizes.sum()), dtype=np.int64)  # 0: the column of zeros
        is_word = np.ones(len(gather), dtype=bool)
        is_word[starts] = False
        gather[is_word] = inverse + 1
        best = np.maximum.reduceat(matrix[:, gather], starts, axis=1)
        return tuple(terms), np.clip(best.T, 0.0, 1.0)

    @contextmanager
    def retrieve(self, query: Query) -> Iterator[tuple[Snapshot, Candidates]]:
        """Gather candidate sentences and score each on every signal; inside the block, the
        snapshot they came from stays valid for ranking and citing them."""
        self.indexer.refresh()  # another process may have written
        lexical = self.lexical_soon(query)
        q = self.embed_query(query)
        with self.indexer.snapshot() as view:
            yield view, self.search(view, query, q, lexical)

    def lexical_soon(self, query: Query) -> Future[Lexical]:
        """Start the BM25 searches in the background, to overlap them with embedding."""
        return self._lexical_pool.submit(self.lexical, query)

    def lexical(self, query: Query) -> Lexical:
        """BM25 scores of the sentences and passages matching the question's words."""
        store = self.indexer.store
        return (store.lexical_search("sentences", query.terms, self.lexical_budget),
                store.lexical_search("passages", query.terms, self.lexical_budget))

    def search(self, view: Snapshot, query: Query, q: np.ndarray, lexical: Future[Lexical]
               ) -> Candidates:
        """Join the dense searches for an embedded query with the lexical ones under way, and
        score the union of their candidates.

        The dense searches run first, while BM25 may still be busy. BM25 may have read a newer
        store than the snapshot holds; ids its catalog does not know are left out.
        """
        catalog = view.catalog
        allowed = select(query.where, catalog.metadata(), query.within)
        if allowed is None:
            dense_s = view.sentences.search(q, self.sentences)
            dense_p = view.passages.search(q, self.passages)
            s_lex, p_lex = lexical.result()
        else:  # searched among the allowed rows only, so the filter keeps its best answers
            s_ok, p_ok = catalog.rows_of(allowed)
            dense_s = view.sentences.search(q, self.sentences, np.asarray(s_ok, np.int64))
            dense_p = view.passages.search(q, self.passages, np.asarray(p_ok, np.int64))
            s_lex, p_lex = lexical.result()
            s_set, p_set = set(s_ok), set(p_ok)
            s_lex = {i: v for i, v in s_lex.items() if i in s_set}
            p_lex = {i: v for i, v in p_lex.items() if i in p_set}
        ids = set(dense_s) | set(top_scored(s_lex, self.sentences))
        top_p = top_scored(p_lex, self.passages)
        ids.update(catalog.sentences_of_passages(set(dense_p) | set(top_p)))
        ids.update(self.named_entries(catalog, query, ids, None if allowed is None else s_set))
        # "What does the CLUSTER command do?": the first sentence of the page named CLUSTER.
        page = named_page(query.text)
        lead = catalog.page_lead(page) if page is not None else None
        if lead is not None and (allowed is None or lead in s_set):
            ids.add(lead)
        else:
            lead = -1
        rows = catalog.sentences(ids)
        if not rows:
            return Candidates([], np.zeros((0, len(SIGNALS)), np.float32), [])
        order = sorted(rows)
        sentence_rows = [rows[i] for i in order]
        homes = [catalog.passage(r.doc_id, r.passage_ord) for r in sentence_rows]
        pids = [p.id if p is not None else -1 for p in homes]
        known_pids = sorted({p for p in pids if p >= 0})
        s_dense = view.sentences.similarity(q, order)
        p_dense = view.passages.similarity(q, known_pids)
        signals = np.array([[s_dense.get(i, 0.0), p_dense.get(p, 0.0), s_lex.get(i, 0.0),
                             p_lex.get(p, 0.0)] for i, p in zip(order, pids)], dtype=np.float32)
        terms, meaning = self.meaning(view, query, sentence_rows)
        opens = np.fromiter((catalog.opens_entry(r) for r in sentence_rows), np.float32,
                            count=len(sentence_rows))
        return Candidates(sentence_rows, signals, pids, self.rarity(view, query), terms, meaning,
                          opens, lead, [catalog.next_said(r) for r in sentence_rows])

    @staticmethod
    def named_entries(catalog: Catalog, query: Query, found: set[int],
                      allowed: set[int] | None) -> list[int]:
        """Sentences of the entries whose option or code the question names ("What does -a
        do?"): the words "-a" leaves to the searches ("a") find nothing."""
        named = catalog.entry_sentences(named_keys(query.text))
        if allowed is not None:
            named &= allowed
        if len(named) <= NAMED_ENTRY_CANDIDATES:
            return sorted(named)
        docs = {row.doc_id for row in catalog.sentences(found).values()}
        rows = catalog.sentences(named)
        return sorted(named, key=lambda i: (rows[i].doc_id not in docs, i)
                      )[:NAMED_ENTRY_CANDIDATES]

    def rarity(self, view: Snapshot, query: Query) -> dict[str, float]:
        """Weigh each question word by how few sentences hold it (BM25's IDF): "torch" says
        little in a corpus about the torch. The counts are cached from the BM25 search."""
        counts = view.store.row_counts("sentences", query.terms)
        n = max(len(view.catalog), *counts.values(), 0) if counts else 0
        return {t: math.log((n + 1.0) / (c + 0.5)) for t, c in counts.items()}

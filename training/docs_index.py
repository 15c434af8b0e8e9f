"""A documentation question set against an index of its manual, for the training scripts.

The index is built with `qa add` (for example `qa add /usr/share/doc/python3.11/html --data-dir
bench/.cache/index-python-docs`); the questions are in the documentation form `qa eval` reads
(`gold_file`, `gold_phrase`, `answerable`, `kind`). Candidates are retrieved once per question
and cached beside the index, like SQuAD's.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

from tqdm import tqdm

from qa.answering.retrieval import Query
from qa.app.evaluation import EvalQuestion, load_jsonl
from qa.app.service import Verbatim
from qa.config import Settings
from training.squad_index import CACHE, cached

FOLDS = 4


def fold_of(question: EvalQuestion) -> int:
    """The cross-validation fold of a documentation question: by the page that answers it, so
    no page is scored by a model that learnt from a question on it (unanswerable questions by
    their own text)."""
    key = question.source or question.question
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % FOLDS


def open_manual_index(index_dir: Path) -> tuple[Verbatim, dict[str, str]]:
    """A manual's index, warmed up, with each document's source (the page questions name)."""
    service = Verbatim(Settings(data_dir=index_dir, seeds_dir=CACHE / "none"))
    service.warm_up()
    return service, {d.doc_id: d.source for d in service.list_documents()}


def collect_docs(index_dir: Path, questions_file: Path, refresh: bool = False) -> list[tuple]:
    """(question, candidates, titles, sources) for every question of the set, retrieved from
    the index in `index_dir`; cached under bench/.cache by the two names."""
    key = hashlib.sha1(f"{index_dir.resolve()}|{questions_file.resolve()}".encode()).hexdigest()
    cache = CACHE / f"candidates-docs-{questions_file.stem}-{key[:10]}.pkl"
    found = None if refresh else cached(cache)
    if found is not None:
        return found
    service, sources = open_manual_index(index_dir)
    out = []
    for q in tqdm(load_jsonl(questions_file), desc="retrieving", unit="q", mininterval=10):
        with service.retriever.retrieve(Query(q.question)) as (_, cands):
            titles = service.store.titles({r.doc_id for r in cands.rows})
        out.append((q, cands, titles, {r.doc_id: sources.get(r.doc_id, "") for r in cands.rows}))
    service.close()
    CACHE.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(out))
    return out

"""The SQuAD file indexed once for the training scripts, kept under bench/.cache."""

from __future__ import annotations

import pickle
from collections import Counter
from dataclasses import fields
from pathlib import Path

from tqdm import tqdm

from qa.answering.retrieval import Candidates
from qa.app.evaluation import EvalQuestion, load_squad
from qa.app.service import Verbatim
from qa.config import Settings

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
DEFAULT_SQUAD = ROOT.parent / "shared" / "data" / "squad-dev-public.json"


def cached(cache: Path) -> list[tuple] | None:
    """Candidates retrieved earlier, or None when there are none or they lack a field that
    retrieval gives now (`Candidates.next_said`...): features then read what serving reads."""
    if not cache.exists():
        return None
    out = pickle.loads(cache.read_bytes())
    wanted = {f.name for f in fields(Candidates)}
    return out if all(wanted <= vars(item[1]).keys() for item in out) else None


def open_squad_index(squad: Path, tag: str = "") -> tuple[Verbatim, list[EvalQuestion]]:
    """A service over every paragraph of a SQuAD file (indexed on first use, then reused:
    unchanged documents are skipped), and the file's questions."""
    docs, questions = load_squad(squad)
    service = Verbatim(Settings(data_dir=CACHE / f"index-{squad.stem}{tag}",
                                seeds_dir=CACHE / "none"))
    service.warm_up()
    if service.indexer.model_mismatch():
        service.rebuild()
    with tqdm(desc="indexing", unit="text", mininterval=10) as bar:
        service.add_documents(docs, lambda done, total: (setattr(bar, "total", total),
                                                         bar.update(done - bar.n)))
    return service, questions


def _keep(cands: Candidates, keep: list[int]) -> Candidates:
    """The candidates at the given positions, every signal kept in step."""
    return Candidates([cands.rows[i] for i in keep], cands.signals[keep],
                      [cands.passage_rows[i] for i in keep], cands.idf, cands.meaning_terms,
                      cands.meaning[keep], cands.opens[keep], cands.page_lead,
                      [cands.next_said[i] for i in keep] if cands.next_said else [])


def near_corpus(cands: Candidates, doc_id: str) -> Candidates | None:
    """An answerable question against its article without its own paragraph (None when
    nothing else matched): the subject is there, the answer is not, as when a user asks the
    documents something on their topic that they never say."""
    keep = [i for i, r in enumerate(cands.rows) if r.doc_id != doc_id]
    return _keep(cands, keep) if keep else None


def off_corpus(cands: Candidates, article: str, n: int) -> Candidates | None:
    """The question numbered `n` against a corpus without its own article, for every other
    question (None for the rest, or when nothing else matched): it should abstain. Half of
    them meet a large corpus (every other article), half a small one (the other article with
    the most candidates), where one sentence sharing a word stands out far more."""
    if n % 2:
        return None
    keep = [i for i, r in enumerate(cands.rows) if not r.doc_id.startswith(article + "#")]
    if keep and n % 4 == 2:
        nearest = Counter(cands.rows[i].doc_id.split("#")[0] for i in keep).most_common(1)[0][0]
        keep = [i for i in keep if cands.rows[i].doc_id.split("#")[0] == nearest]
    if not keep:
        return None
    return _keep(cands, keep)

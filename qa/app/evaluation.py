"""Evaluation: how often the first quoted sentence is right, and whether confidence can be trusted.

Two inputs: a JSONL question set judged by expected substrings against the current index, and a
SQuAD v1.1 or v2.0 file judged ReQA-style (sentence retrieval, and for v2.0 answer-or-abstain) in
a temporary index of its own. A JSONL line is either Verbatim's own form (`answers`, `doc_id`,
`unanswerable`, `history`) or the documentation form (`gold_file`, `gold_phrase`, `answerable`,
`kind`): a quote is right when it holds the phrase and cites a document read from that file.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.answering.answerer import Result
from qa.reading.documents import Document, make_document

if TYPE_CHECKING:
    from qa.app.service import Verbatim

_SPACE = re.compile(r"\s+")
_PLAIN = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                        "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00a0": " "})


def normalize(text: str) -> str:
    """Compare texts as the SQuAD judge does: lower-cased, plain quotes and dashes, one space."""
    return _SPACE.sub(" ", text.translate(_PLAIN).lower()).strip()


@dataclass
class EvalQuestion:
    """One question with what counts as a right answer."""

    question: str
    answers: list[str]
    doc_id: str | None = None
    answer_starts: list[int] = field(default_factory=list)
    unanswerable: bool = False
    history: list[str] = field(default_factory=list)
    group: str = ""
    source: str | None = None  # the file the answer must come from (its path, as added)


def load_jsonl(path: Path) -> list[EvalQuestion]:
    """Read `{"question", "answers", "doc_id"?, "unanswerable"?, "history"?}` lines, or the
    documentation form `{"question", "answerable", "gold_file"?, "gold_phrase"?, "kind"?}`."""
    out = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if "answerable" in row or "gold_phrase" in row:
                answerable = bool(row.get("answerable", True))
                out.append(EvalQuestion(
                    row["question"], [row["gold_phrase"]] if answerable else [],
                    unanswerable=not answerable, group=str(row.get("kind", "")),
                    source=row.get("gold_file") if answerable else None))
                continue
            out.append(EvalQuestion(row["question"], list(row.get("answers", [])),
                                    row.get("doc_id"), [],
                                    bool(row.get("unanswerable", False)),
                                    list(row.get("history", []))))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not a question line ({exc})") from exc
    return out


def load_squad(path: Path) -> tuple[list[Document], list[EvalQuestion]]:
    """Read a SQuAD v1.1 or v2.0 file: every paragraph a document `<title>#<index>`; v2.0's
    `is_impossible` questions are the ones the right answer to is an abstention."""
    data = json.loads(Path(path).read_text())
    docs, questions = [], []
    for article in data["data"]:
        title = article["title"]
        for i, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"{title}#{i}"
            docs.append(make_document(paragraph["context"], doc_id=doc_id,
                                      title=title.replace("_", " ")))
            for qa in paragraph["qas"]:
                answers = [a["text"] for a in qa["answers"]]
                starts = [a["answer_start"] for a in qa["answers"] if "answer_start" in a]
                questions.append(EvalQuestion(qa["question"], answers, doc_id, starts,
                                              unanswerable=bool(qa.get("is_impossible")),
                                              group=title))
    return docs, questions


def is_squad_file(path: Path) -> bool:
    """Tell a SQuAD JSON file from a JSONL question set."""
    try:
        data = json.loads(Path(path).read_text())
    except ValueError:
        return False
    return isinstance(data, dict) and "data" in data


def same_file(cited: str | None, wanted: str) -> bool:
    """Whether a document's source is the file named (added from it or from a folder above)."""
    if not cited:
        return False
    cited, wanted = cited.replace("\\", "/"), wanted.replace("\\", "/").lstrip("/")
    return cited == wanted or cited.endswith("/" + wanted)


def judge(q: EvalQuestion, text: str, doc_id: str, start: int, end: int,
          source: str | None = None) -> bool:
    """Decide whether one quoted sentence answers the question (`source`: the cited
    document's file, for questions that name theirs)."""
    if q.doc_id is not None and doc_id != q.doc_id:
        return False
    if q.source is not None and not same_file(source, q.source):
        return False
    plain = normalize(text)
    if any(normalize(a) in plain for a in q.answers if a.strip()):
        return True
    return any(start <= s < end for s in q.answer_starts)


@dataclass
class Outcome:
    """What happened to one question."""

    correct_rank: int | None  # 1-based rank of the first right sentence among the top 10
    passage_rank: int | None  # 1-based rank of the right document among distinct cited ones
    confidence: float
    abstained: bool
    unanswerable: bool
    seconds: float
    has_doc: bool = False  # the question names its source document (SQuAD)
    group: str = ""


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10
                               ) -> float:
    """Measure how far confidence is from the observed accuracy, averaged over 10 bins."""
    if not len(confidence):
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(total)


def auroc(positive: np.ndarray, negative: np.ndarray) -> float | None:
    """Chance that a random positive outscores a random negative (ties count half): how well a
    score separates them at every threshold at once."""
    if not len(positive) or not len(negative):
        return None
    _, value_of, counts = np.unique(np.concatenate([positive, negative]), return_inverse=True,
                                    return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[value_of]  # ties share their mean rank
    n_pos, n_neg = len(positive), len(negative)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def answer_or_abstain(outcomes: list[Outcome], threshold: float) -> dict[str, float | None]:
    """SQuAD 2.0's judgement: an answerable question is right when answered with a right first
    sentence, an unanswerable one when abstained; plus the best accuracy any threshold gives."""
    conf = np.array([o.confidence for o in outcomes])
    unanswerable = np.array([o.unanswerable for o in outcomes])
    first_right = np.array([o.correct_rank == 1 for o in outcomes]) & ~unanswerable

    def judged(t: float) -> tuple[float, float]:
        answered = conf >= t
        right = (answered & first_right) | (~answered & unanswerable)
        return float(right.mean()), float((answered & ~first_right).mean())

    accuracy, wrong = judged(threshold)
    candidates = np.unique(np.concatenate([conf, [1.01]]))
    scores = [judged(float(t))[0] for t in candidates]
    best = int(np.argmax(scores))
    n_un, n_an = max(int(unanswerable.sum()), 1), max(int((~unanswerable).sum()), 1)
    return {
        "accuracy": round(accuracy, 4),
        "wrong_answer_rate": round(wrong, 4),
        "unanswerable_abstained": round(float((conf[unanswerable] < threshold).sum()) / n_un, 4),
        "answerable_right": round(float((first_right & (conf >= threshold)).sum()) / n_an, 4),
        "auroc": None if (a := auroc(conf[first_right], conf[unanswerable])) is None
        else round(a, 4),
        "best_accuracy": round(scores[best], 4),
        "best_threshold": round(float(min(candidates[best], 1.0)), 4),
    }


def summarize(outcomes: list[Outcome], threshold: float | None = None,
              confident_above: float | None = None) -> dict[str, float | int | str | None]:
    """Turn per-question outcomes into the reported metrics (with `confident_above`, also the
    share of answerable questions in each band and how often the first sentence is right
    there)."""
    answerable = [o for o in outcomes if not o.unanswerable]
    unanswerable = [o for o in outcomes if o.unanswerable]
    ranks = [o.correct_rank for o in answerable]
    n = max(len(answerable), 1)
    conf = np.array([o.confidence for o in answerable])
    hit1 = np.array([r == 1 for r in ranks], dtype=float)
    latencies = np.array([o.seconds for o in outcomes]) * 1000
    with_docs = any(o.passage_rank is not None or o.has_doc for o in answerable)
    metrics: dict[str, float | int | str | None] = {
        "questions": len(outcomes),
        "answerable": len(answerable),
        "p_at_1": round(float(hit1.sum()) / n, 4),
        # the first sentence right and confident enough to be given as the answer
        "answered_right": round(sum(1 for o in answerable if o.correct_rank == 1 and
                                    not o.abstained) / n, 4),
        "mrr_at_10": round(sum(1 / r for r in ranks if r) / n, 4),
        "r_at_3": round(sum(1 for r in ranks if r and r <= 3) / n, 4),
        "r_at_5": round(sum(1 for r in ranks if r and r <= 5) / n, 4),
        "passage_r_at_5": round(sum(1 for o in answerable if o.passage_rank and
                                    o.passage_rank <= 5) / n, 4) if with_docs else None,
        "ece": round(expected_calibration_error(conf, hit1), 4),
        "answerable_abstained": round(sum(o.abstained for o in answerable) / n, 4),
        "latency_p50_ms": round(float(np.percentile(latencies, 50)), 1) if len(latencies) else None,
        "latency_p95_ms": round(float(np.percentile(latencies, 95)), 1) if len(latencies) else None,
    }
    if threshold is not None and confident_above is not None and answerable:
        confident = conf >= confident_above
        possible = (conf >= threshold) & ~confident
        for name, mask in (("confident", confident), ("possible", possible)):
            metrics[f"band_{name}_share"] = round(float(mask.mean()), 4)
            metrics[f"band_{name}_right"] = round(float(hit1[mask].mean()), 4) \
                if mask.any() else None
    if unanswerable:
        abstained = [o for o in outcomes if o.abstained]
        metrics["unanswerable"] = len(unanswerable)
        metrics["abstention_recall"] = round(
            sum(o.abstained for o in unanswerable) / len(unanswerable), 4)
        metrics["abstention_precision"] = round(
            sum(o.unanswerable for o in abstained) / len(abstained), 4) if abstained else None
        for group in sorted({o.group for o in unanswerable if o.group}):
            of_group = [o for o in unanswerable if o.group == group]
            metrics[f"abstained_{group}"] = f"{sum(o.abstained for o in of_group)} of {len(of_group)}"
        if threshold is not None:
            metrics.update(answer_or_abstain(outcomes, threshold))
    return metrics


Asker = Callable[[EvalQuestion], Result]


def run(questions: Iterable[EvalQuestion], ask: Asker, abstain_below: float,
        progress: Callable[[], None] | None = None,
        sources: dict[str, str] | None = None) -> list[Outcome]:
    """Ask every question and judge the top 10 sentences (`sources`: each document's file,
    for questions that name the file their answer comes from)."""
    sources = sources or {}
    outcomes = []
    for q in questions:
        t0 = time.perf_counter()
        result = ask(q)
        seconds = time.perf_counter() - t0
        rank = None
        docs: list[str] = []
        for i, a in enumerate(result.answers[:10], 1):
            cites = [a.citation, *a.also_in]
            if rank is None and any(judge(q, a.text, c.doc_id, c.start, c.end,
                                          sources.get(c.doc_id)) for c in cites):
                rank = i
            for c in cites:
                if c.doc_id not in docs:
                    docs.append(c.doc_id)
        passage_rank = docs.index(q.doc_id) + 1 if q.doc_id in docs else None
        outcomes.append(Outcome(rank, passage_rank, result.confidence,
                                result.confidence < abstain_below, q.unanswerable, seconds,
                                q.doc_id is not None, "" if q.doc_id is not None else q.group))
        if progress:
            progress()
    return outcomes


def asker(service: Verbatim, top_k: int = 10) -> Asker:
    """Ask through the service as a user would (its checks included: a stale index is refused),
    follow-ups through the conversation path; nothing abstains, so every ranking is judged."""
    from qa.answering.conversation import Turn

    def ask(q: EvalQuestion) -> Result:
        if q.history:
            turns = [Turn("user", h) for h in q.history] + [Turn("user", q.question)]
            return service.chat(turns, top_k=top_k, abstain=False)
        return service.ask(q.question, top_k=top_k, abstain=False)

    return ask


def evaluate(service: Verbatim, questions: list[EvalQuestion],
             progress: Callable[[], None] | None = None) -> dict[str, float | int | str | None]:
    """Ask every question against the service's index and report the metrics."""
    threshold = service.settings.abstain_below
    sources = {d.doc_id: d.source for d in service.list_documents()} \
        if any(q.source for q in questions) else {}
    return summarize(run(questions, asker(service), threshold, progress, sources), threshold,
                     service.settings.confident_above)

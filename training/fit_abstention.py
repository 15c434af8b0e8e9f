"""Learn the verifier: the probability that the best-ranked sentence answers its question.

Usage: python training/fit_abstention.py [../shared/data/squad2-dev-public.json] [--write]

Data: the public SQuAD 2.0 development articles (`../shared/data/squad2-dev-public.json`), every
paragraph indexed as one document, every question asked against the whole corpus. A question's
example is its best-ranked sentence with the verifier's features (`qa.answering.verification.row`),
labelled 1 when the question is answerable and that sentence is right by the ReQA judge, else 0
(unanswerable questions, and wrong first sentences). Every other question is also asked of the
corpus without its own article (off-corpus, label 0), as the ranking's calibration is, so
off-topic questions keep abstaining. Every answerable question is asked once more without its
own paragraph (near-topic: the subject is there, the answer is not; label 0, reported as
`near_abstain`, learnt from only with `--near`). Everything is cross-validated by article: no
article is scored by a model that saw it. `--write` saves qa/answering/verifier_params.json.

`--docs INDEX:QUESTIONS` adds a documentation question set asked against its manual's index
(training/docs_index.py): answerable questions labelled by the judge, near-topic and off-topic
ones label 0, each weighted `--docs-weight`, cross-validated by the page that answers them.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np
from scipy.special import expit, logit
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.answering import defaults, features, verification
from qa.answering.answerer import Answerer, combine, meaning_of, verification_inputs
from qa.answering.retrieval import Candidates, Query
from qa.app.evaluation import EvalQuestion, auroc, judge, normalize
from qa.config import Settings
from qa.indexing.indexer import Snapshot
from training.docs_index import FOLDS, fold_of, open_manual_index
from training.squad_index import CACHE, near_corpus, off_corpus, open_squad_index

DEFAULT_SQUAD2 = ROOT.parent / "shared" / "data" / "squad2-dev-public.json"


def example(answerer: Answerer, view: Snapshot, q: EvalQuestion, query: Query,
            cands: Candidates, titles: dict, kind: str, source: dict | None = None) -> dict:
    """The best-ranked sentence's ranking view and evidence for one question (`kind`: asked of
    its own corpus, or of one without its answer), and whether it is right (`source`: the
    documents' files, for questions that name the page)."""
    ranking, matrix, stands_on = answerer.rank(query, cands, titles)
    best = int(np.argmax(ranking))
    r = cands.rows[best]
    p = view.catalog.passage(r.doc_id, r.passage_ord)
    passage = view.store.text_slices([(p.doc_id, p.start, p.end)])[(p.doc_id, p.start, p.end)]
    right = kind == "own" and not q.unanswerable and judge(
        q, r.text, r.doc_id, r.start, r.end, source.get(r.doc_id) if source else None)
    return {"question": q.question, "group": q.group, "kind": kind,
            "meaning": meaning_of(cands, int(stands_on[best])),
            "unanswerable": q.unanswerable, "right": bool(right),
            "inputs": verification_inputs(ranking, matrix, best), "idf": cands.idf,
            "evidence": verification.Evidence(
                defaults.read_with_entry(cands.rows, best, int(stands_on[best]), cands.opens),
                passage,
                features.heading(titles.get(r.doc_id, ""), r.context)),
            "calibrated": float(answerer._confidence(ranking, matrix)[best])}


def collect(squad: Path, refresh: bool) -> list[dict]:
    """Ask every question once and keep its best sentence's ranking view and evidence."""
    cache = CACHE / f"verifier-{squad.stem}.pkl"
    if cache.exists() and not refresh:
        return pickle.loads(cache.read_bytes())
    service, questions = open_squad_index(squad)
    answerer = service.answerer
    out = []

    for qi, q in enumerate(tqdm(questions, desc="asking", unit="q", mininterval=10)):
        query = Query(q.question)
        with service.retriever.retrieve(query) as (view, cands):
            if not len(cands):
                continue
            titles = view.catalog.titles({r.doc_id for r in cands.rows})
            out.append(example(answerer, view, q, query, cands, titles, "own"))
            sub = off_corpus(cands, q.group, qi)
            if sub is not None:
                out.append(example(answerer, view, q, query, sub, titles, "off"))
            near = None if q.unanswerable else near_corpus(cands, q.doc_id)
            if near is not None:
                e = example(answerer, view, q, query, near, titles, "near")
                # Another paragraph may say the same thing: not a question without an answer.
                if not any(normalize(a) in normalize(e["evidence"].sentence) for a in q.answers):
                    out.append(e)
    CACHE.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(out))
    return out


def collect_docs(index_dir: Path, questions_file: Path, refresh: bool) -> list[dict]:
    """Ask a documentation set's questions of its manual's index, as `collect` asks SQuAD's."""
    from qa.app.evaluation import load_jsonl

    cache = CACHE / f"verifier-docs-{questions_file.stem}-{index_dir.name}.pkl"
    if cache.exists() and not refresh:
        return pickle.loads(cache.read_bytes())
    service, sources = open_manual_index(index_dir)
    out = []
    for q in tqdm(load_jsonl(questions_file), desc="asking", unit="q", mininterval=10):
        query = Query(q.question)
        with service.retriever.retrieve(query) as (view, cands):
            if not len(cands):
                continue
            titles = view.catalog.titles({r.doc_id for r in cands.rows})
            e = example(service.answerer, view, q, query, cands, titles, "own", sources)
            out.append({**e, "group": f"docs-{fold_of(q)}", "docs": q.group or "answerable"})
    service.close()
    CACHE.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(out))
    return out


def matrix(examples: list[dict]) -> np.ndarray:
    """The verifier's feature rows, computed by the serving code."""
    return np.vstack([verification.row(e["question"], e["evidence"], e["inputs"], e["idf"],
                                       e["meaning"])
                      for e in tqdm(examples, desc="features", mininterval=10)])


def fit(x: np.ndarray, y: np.ndarray, hidden: int, alpha: float, seed: int = 0,
        weight: np.ndarray | None = None):
    """A small network (or a logistic regression with hidden=0) on standardised features,
    each example counting `weight` (a logistic regression only)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    mean, scale = x.mean(0), np.maximum(x.std(0), 1e-6)
    z = (x - mean) / scale
    if hidden:
        model = MLPClassifier((hidden,), alpha=alpha, max_iter=600, early_stopping=False,
                              random_state=seed).fit(z, y)
        layers = list(zip(model.coefs_, model.intercepts_))
    else:
        model = LogisticRegression(C=1.0 / max(alpha, 1e-6), max_iter=3000).fit(
            z, y, sample_weight=weight)
        layers = [(model.coef_.T, model.intercept_)]
    return {"features": list(verification.FEATURES), "mean": mean.tolist(),
            "scale": scale.tolist(), "layers": [(w.tolist(), b.tolist()) for w, b in layers]}


def report(name: str, examples: list[dict], prob: np.ndarray, threshold: float) -> dict:
    """SQuAD 2.0 answer-or-abstain figures of a confidence over the questions' own examples."""
    own = np.array([e["kind"] == "own" and "docs" not in e for e in examples])
    un = np.array([e["unanswerable"] for e in examples])[own]
    right = np.array([e["right"] for e in examples])[own]
    p = prob[own]

    def acc(t: float) -> tuple[float, float]:
        answered = p >= t
        return float(((answered & right) | (~answered & un)).mean()), \
            float((answered & ~right).mean())

    a, w = acc(threshold)
    grid = np.linspace(0.02, 0.98, 49)
    best = max(grid, key=lambda t: acc(t)[0])
    kinds = np.array([e["kind"] for e in examples])
    off, near = prob[kinds == "off"], prob[kinds == "near"]
    out = {"accuracy": a, "wrong": w, "auroc": auroc(p[right], p[un]),
           "unanswerable_abstain": float((p[un] < threshold).mean()),
           "answerable_abstain": float((p[~un] < threshold).mean()),
           "best_accuracy": acc(best)[0], "best_threshold": float(best),
           "off_corpus_abstain": float((off < threshold).mean()) if len(off) else None,
           "near_abstain": float((near < threshold).mean()) if len(near) else None}
    print(f"{name:28} " + "  ".join(f"{k} {v:.3f}" for k, v in out.items() if v is not None))
    return out


def report_docs(examples: list[dict], cv: np.ndarray, calibrated: list[float],
                args: argparse.Namespace) -> None:
    """The documentation questions as served (cross-validated): answerable ones answered right
    or abstaining, near-topic and off-topic ones abstaining."""
    served = np.array([combine(c, v, args.verify_below) for c, v in zip(calibrated, cv)])
    for kind in ("answerable", "near", "off"):
        rows = [i for i, e in enumerate(examples) if e.get("docs") == kind]
        if not rows:
            continue
        abstain = served[rows] < args.threshold
        right = np.array([examples[i]["right"] for i in rows])
        extra = f", answered right {np.mean(~abstain & right):.3f}" if kind == "answerable" else ""
        print(f"documentation {kind}: {len(rows)} questions, abstain {abstain.mean():.3f}{extra}")


def main() -> None:
    """Collect, cross-validate, report and optionally save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("squad", nargs="?", type=Path, default=DEFAULT_SQUAD2)
    parser.add_argument("--write", nargs="?", type=Path, const=verification.PARAMS_FILE,
                        help="save the parameters (to qa/answering/verifier_params.json unless a path "
                             "is given)")
    parser.add_argument("--refresh", action="store_true", help="ask every question again")
    parser.add_argument("--hidden", type=int, default=0,
                        help="hidden units of a small network (0, as shipped: logistic)")
    parser.add_argument("--alpha", type=float, default=1e-2, help="L2 regularisation")
    parser.add_argument("--threshold", type=float, default=Settings().abstain_below)
    parser.add_argument("--verify-below", type=float, default=Settings().verify_below,
                        help="where the verifier overrules the ranking's confidence")
    parser.add_argument("--near", action="store_true",
                        help="also learn from the near-topic examples (docs/abstention.md: no "
                             "gain at the same cost to answerable questions)")
    parser.add_argument("--docs", action="append", default=[], metavar="INDEX:QUESTIONS",
                        help="a documentation question set and the index of its manual")
    parser.add_argument("--docs-weight", type=float, default=5.0,
                        help="weight of a documentation question against a SQuAD one")
    args = parser.parse_args()
    squad_examples = collect(args.squad, args.refresh)
    docs_examples = [e for spec in args.docs
                     for e in collect_docs(*map(Path, spec.rsplit(":", 1)), args.refresh)]
    examples = squad_examples + docs_examples
    x = matrix(examples)
    y = np.array([e["right"] for e in examples])
    groups = np.array([e["group"] for e in examples])
    weight = np.array([args.docs_weight if "docs" in e else 1.0 for e in examples])
    learn = np.array([args.near or e["kind"] != "near" for e in examples])
    articles = sorted(g for g in set(groups) if not g.startswith("docs-"))
    folds = [set(articles[i::6]) | ({f"docs-{i}"} if i < FOLDS else set()) for i in range(6)]
    print(f"{len(examples)} examples ({int(y.sum())} right) from {len(articles)} articles")
    report("ranking calibration", examples, np.array([e["calibrated"] for e in examples]),
           args.threshold)
    cv = np.zeros(len(x))
    for fold in folds:
        test = np.array([g in fold for g in groups])
        params = fit(x[~test & learn], y[~test & learn], args.hidden, args.alpha,
                     weight=weight[~test & learn])
        cv[test] = verification.Verifier(params).probability(x[test])
    report(f"verifier h={args.hidden} a={args.alpha} CV", examples, cv, args.threshold)
    calibrated = [e["calibrated"] for e in examples]
    report(f"as served (below {args.verify_below}) CV", examples,
           np.array([combine(c, v, args.verify_below) for c, v in zip(calibrated, cv)]),
           args.threshold)
    # The verifier over the whole range, shifted so that it crosses the threshold where it
    # crosses `verify_below`: the same answers and abstentions, a different order above them.
    shift = logit(args.threshold) - logit(args.verify_below)
    report("verifier everywhere CV", examples,
           np.minimum(calibrated, expit(logit(np.clip(cv, 1e-6, 1 - 1e-6)) + shift)),
           args.threshold)
    if docs_examples:
        report_docs(examples, cv, calibrated, args)
    params = fit(x[learn], y[learn], args.hidden, args.alpha, weight=weight[learn])
    params["trained_on"] = ", ".join([args.squad.name] + [Path(spec.rsplit(":", 1)[1]).name
                                                          for spec in args.docs])
    if args.write:
        args.write.write_text(json.dumps(params) + "\n")
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()

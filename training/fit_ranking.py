"""Learn the answerer's feature weights and confidence calibration from a SQuAD file, and
documentation question sets against their manuals.

Usage: python training/fit_ranking.py [../shared/data/squad-dev-public.json] [--write]
           [--docs INDEX_DIR:QUESTIONS.jsonl ...] [--holdout INDEX_DIR:QUESTIONS.jsonl ...]

`--docs` adds a documentation set (see training/docs_index.py) to the fit, its questions
weighted by `--docs-weight` and cross-validated by the page that answers them; `--holdout`
sets are never fitted on, only scored, to see whether what was learnt holds on another manual.

Every candidate sentence of every question is labelled by the ReQA judge; a logistic regression
learns the ranking weights, then a second one maps the top answer's features to the probability
that it is right. Both are cross-validated by article (no article is scored by a model that saw
it), and the per-fold figures are printed. `--write` saves the weights to qa/answering/ranking_params.json.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.answering import features, openers
from qa.answering.answerer import (
    CONFIDENCE_FEATURES,
    PARAMS_FILE,
    RULE_WEIGHTS,
    RankingParams,
    confidence_features,
)
from qa.answering.retrieval import Query
from qa.app.evaluation import expected_calibration_error, judge
from qa.config import Settings
from training.docs_index import FOLDS, collect_docs, fold_of
from training.squad_index import CACHE, DEFAULT_SQUAD, cached, off_corpus, open_squad_index


def collect(squad: Path, refresh: bool) -> list[tuple]:
    """Retrieve candidates for every question once; cached, so features can change cheaply."""
    tag = ("" if Settings().embed_titles else "-notitle") + \
        ("-derived" if Settings().derive_passages else "") + \
        ("-context" if Settings().context_vectors else "")
    cache = CACHE / f"candidates-{squad.stem}{tag}.pkl"
    found = None if refresh else cached(cache)
    if found is not None:
        return found
    service, questions = open_squad_index(squad, tag)
    store = service.store
    out = []
    for q in tqdm(questions, desc="retrieving", unit="q", mininterval=10):
        with service.retriever.retrieve(Query(q.question)) as (_, cands):
            titles = store.titles({r.doc_id for r in cands.rows})
        out.append((q, cands, titles))
    CACHE.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(out))
    return out


def featurize(collected: list[tuple], docs: list[list[tuple]] | None = None,
              docs_weight: float = 1.0, first_qid: int = 0) -> dict[str, np.ndarray]:
    """Label every candidate with the judge and compute its features.

    SQuAD questions are grouped by article; a documentation set's answerable questions join
    them (group `docs-N`, N their fold, rows weighted `docs_weight`) and its unanswerable ones
    are negatives for the calibration, like SQuAD questions asked without their article."""
    xs, ys, qids, groups, weights, negx, negq, negw = [], [], [], [], [], [], [], []
    qi = first_qid
    for q, cands, titles, *_ in tqdm(collected, desc="features", mininterval=10):
        qi += 1
        if not len(cands):
            continue
        xs.append(features.build(q.question, cands, titles))
        ys.append(np.array([judge(q, r.text, r.doc_id, r.start, r.end) for r in cands.rows]))
        qids.append(np.full(len(cands), qi))
        groups.append(q.group)
        weights.append(np.ones(len(cands)))
        sub = off_corpus(cands, q.group, qi)
        if sub is not None:
            negx.append(features.build(q.question, sub, titles))
            negq.append(np.full(len(sub), qi))
            negw.append(np.ones(len(sub)))
    for collected_docs in docs or []:
        for q, cands, titles, sources in collected_docs:
            qi += 1
            if not len(cands):
                continue
            x = features.build(q.question, cands, titles)
            if q.unanswerable:
                negx.append(x)
                negq.append(np.full(len(cands), qi))
                negw.append(np.full(len(cands), docs_weight))
                continue
            xs.append(x)
            ys.append(np.array([judge(q, r.text, r.doc_id, r.start, r.end,
                                      sources.get(r.doc_id)) for r in cands.rows]))
            qids.append(np.full(len(cands), qi))
            groups.append(f"docs-{fold_of(q)}")
            weights.append(np.full(len(cands), docs_weight))
    width = len(features.FEATURES)
    return {"x": np.vstack(xs) if xs else np.zeros((0, width)),
            "y": np.concatenate(ys) if ys else np.zeros(0, bool),
            "qid": np.concatenate(qids) if qids else np.zeros(0, int), "group": np.array(groups),
            "weight": np.concatenate(weights) if weights else np.zeros(0),
            "negx": np.vstack(negx) if negx else np.zeros((0, width)),
            "negq": np.concatenate(negq) if negq else np.zeros(0, int),
            "negw": np.concatenate(negw) if negw else np.zeros(0)}


def served_scores(collected: list[tuple], x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Scores of a documentation set's answerable candidates, whose features `x` are in
    `featurize`'s order, as serving ranks them: the weights, then the rules
    (`openers.apply_rules`)."""
    scores, out, at = x @ weights, [], 0
    for q, cands, *_ in collected:
        if not q.unanswerable and len(cands):
            part = slice(at, at + len(cands))
            out.append(openers.apply_rules(q.question, cands, scores[part], x[part])[0])
            at += len(cands)
    return np.concatenate(out) if out else np.zeros(0)


def per_question(qid: np.ndarray) -> list[np.ndarray]:
    """Split row indices by question."""
    order = np.argsort(qid, kind="stable")
    bounds = np.flatnonzero(np.diff(qid[order])) + 1
    return np.split(order, bounds)


def ranking_metrics(scores: np.ndarray, y: np.ndarray, qid: np.ndarray, mask_q: set[int] | None
                    ) -> tuple[float, float]:
    """P@1 and MRR@10 of a scoring, counting every question (no candidates right = miss)."""
    p1, mrr, n = 0.0, 0.0, 0
    for rows in per_question(qid):
        if mask_q is not None and int(qid[rows[0]]) not in mask_q:
            continue
        n += 1
        order = rows[np.argsort(-scores[rows], kind="stable")][:10]
        hits = np.flatnonzero(y[order])
        if len(hits):
            p1 += hits[0] == 0
            mrr += 1.0 / (hits[0] + 1)
    return p1 / max(n, 1), mrr / max(n, 1)


def top_confidence_rows(scores: np.ndarray, x: np.ndarray, qid: np.ndarray,
                        y: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Confidence features and labels of each question's top-ranked candidate."""
    rows, labels, qs = [], [], []
    for idx in per_question(qid):
        s = scores[idx]
        first = int(np.argsort(-s, kind="stable")[0])
        top = idx[first]
        rows.append(confidence_features(s, x[idx])[first])
        labels.append(bool(y[top]) if y is not None else False)
        qs.append(int(qid[top]))
    return np.array(rows, dtype=np.float32), np.array(labels), np.array(qs)


def fit_ranker(x: np.ndarray, y: np.ndarray, qid: np.ndarray, l2: float,
               weight: np.ndarray | None = None) -> np.ndarray:
    """Listwise ranking: maximise each question's softmax probability of its right sentences
    (each question counting `weight`, the same on all its rows; 1 when None)."""
    order = np.argsort(qid, kind="stable")
    x, y, qid = x[order].astype(np.float64), y[order].astype(bool), qid[order]
    weight = np.ones(len(qid)) if weight is None else weight[order]
    starts = np.r_[0, np.flatnonzero(np.diff(qid)) + 1]
    has_pos = np.add.reduceat(y.astype(int), starts) > 0
    seg = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(qid)]))
    keep = has_pos[seg]
    x, y, seg, weight = x[keep], y[keep], seg[keep], weight[keep]
    _, seg = np.unique(seg, return_inverse=True)
    starts = np.r_[0, np.flatnonzero(np.diff(seg)) + 1]
    q_weight = weight[starts]
    total = q_weight.sum()

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = x @ w
        m = np.maximum.reduceat(s, starts)[seg]
        e = np.exp(s - m)
        z_all = np.add.reduceat(e, starts)
        z_pos = np.add.reduceat(e * y, starts)
        value = np.sum(q_weight * (np.log(z_all) - np.log(z_pos))) / total + l2 * w @ w
        p_all = e / z_all[seg]
        p_pos = e * y / z_pos[seg]
        grad = (q_weight[seg] * (p_all - p_pos)) @ x / total + 2 * l2 * w
        return float(value), grad

    result = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B")
    return result.x


def main() -> None:
    """Fit, cross-validate, report and optionally save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("squad", nargs="?", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--write", action="store_true", help="save qa/answering/ranking_params.json")
    parser.add_argument("--out", type=Path, default=PARAMS_FILE, help="where --write saves")
    parser.add_argument("--refresh", action="store_true", help="recompute cached features")
    parser.add_argument("--l2", type=float, default=1e-3, help="L2 regularisation strength")
    parser.add_argument("--negatives", type=float, default=0.3,
                        help="weight of off-corpus questions in the calibration fit")
    parser.add_argument("--ablation", action="store_true",
                        help="print what each group of features adds, then stop")
    parser.add_argument("--drop", default="", help="comma-separated features to leave out")
    parser.add_argument("--docs", action="append", default=[], metavar="INDEX:QUESTIONS",
                        help="a documentation question set and the index of its manual")
    parser.add_argument("--docs-weight", type=float, default=5.0,
                        help="weight of a documentation question against a SQuAD question")
    parser.add_argument("--holdout", action="append", default=[], metavar="INDEX:QUESTIONS",
                        help="a documentation set only scored, never fitted on")
    args = parser.parse_args()
    docs = [collect_docs(*map(Path, spec.rsplit(":", 1)), args.refresh) for spec in args.docs]
    data = featurize(collect(args.squad, args.refresh), docs, args.docs_weight)
    x, y, qid, group = data["x"], data["y"].astype(int), data["qid"], data["group"]
    weight = data["weight"]
    names = list(features.FEATURES)
    dropped = [n for n in args.drop.split(",") if n] + list(RULE_WEIGHTS)  # set, not learnt
    use = np.array([n not in dropped for n in names])
    articles = sorted(a for a in set(group) if not a.startswith("docs-"))
    folds = [set(articles[i::4]) | {f"docs-{i}"} for i in range(FOLDS)]
    q_article = {int(q): group[i] for i, q in enumerate(sorted(set(qid.tolist())))}
    squad_q = {q for q, a in q_article.items() if not a.startswith("docs-")}
    docs_q = set(q_article) - squad_q
    print(f"{len(group)} questions ({len(docs_q)} on documentation), {len(x)} candidates, "
          f"{sum(per_question_any(y, qid))} with a right candidate")
    if args.ablation:
        ablation(x, y, qid, folds, q_article, args.l2)
        return
    base = RankingParams().weight_vector()
    print("baseline (z-score sum of 4 signals): P@1 %.4f  MRR@10 %.4f"
          % ranking_metrics(x @ base, y, qid, squad_q))
    cv_scores = np.zeros(len(x), dtype=np.float32)
    for k, fold in enumerate(folds):
        test_q = {q for q, a in q_article.items() if a in fold}
        train = np.array([q_article[int(q)] not in fold for q in qid])
        w = np.where(use, 0.0, 0.0)
        w[use] = fit_ranker(x[train][:, use], y[train], qid[train], args.l2, weight[train])
        cv_scores[~train] = x[~train] @ w
        print(f"fold {k}: P@1 %.4f  MRR@10 %.4f" % ranking_metrics(x @ w, y, qid,
                                                                  test_q & squad_q))
    print("cross-validated, SQuAD: P@1 %.4f  MRR@10 %.4f" % ranking_metrics(cv_scores, y, qid,
                                                                           squad_q))
    if docs_q:
        print("cross-validated, documentation (by page): P@1 %.4f  MRR@10 %.4f"
              % ranking_metrics(cv_scores, y, qid, docs_q))

    w_all = np.zeros(len(names))
    w_all[use] = fit_ranker(x[:, use], y, qid, args.l2, weight)
    for spec in args.holdout:
        collected = collect_docs(*map(Path, spec.rsplit(":", 1)), args.refresh)
        held = featurize([], [collected])
        # Ranked as serving ranks, the default rule after the weights.
        print(f"held out, {spec}: P@1 %.4f  MRR@10 %.4f (as shipped now: %.4f)" % (
            *ranking_metrics(served_scores(collected, held["x"], w_all), held["y"], held["qid"],
                             None),
            ranking_metrics(served_scores(collected, held["x"],
                                          RankingParams.load().weight_vector()),
                            held["y"], held["qid"], None)[0]))
    scores = x @ w_all
    pos_rows, pos_labels, pos_q = top_confidence_rows(scores, x, qid, y)
    neg_rows, _, neg_q = top_confidence_rows(data["negx"] @ w_all, data["negx"], data["negq"],
                                             None)
    cal_x = np.vstack([pos_rows, neg_rows])
    cal_y = np.concatenate([pos_labels, np.zeros(len(neg_rows), bool)])
    # Calibrate by article fold too; negatives are spread over folds round-robin.
    first_weight = {int(q): w for q, w in zip(qid, weight)}
    neg_weight = {int(q): w for q, w in zip(data["negq"], data["negw"])}
    cal_w = np.concatenate([[first_weight[int(q)] for q in pos_q],
                            [args.negatives * neg_weight[int(q)] for q in neg_q]])
    probs = np.zeros(len(cal_x))
    neg_fold = np.arange(len(neg_rows)) % 4
    for k, fold in enumerate(folds):
        is_test = np.concatenate([[q_article[int(q)] in fold for q in pos_q], neg_fold == k])
        model = LogisticRegression(C=1.0, max_iter=2000).fit(
            cal_x[~is_test], cal_y[~is_test], sample_weight=cal_w[~is_test])
        probs[is_test] = model.predict_proba(cal_x[is_test])[:, 1]
    answerable = np.arange(len(cal_x)) < len(pos_rows)
    print("calibration ECE on answerable (cross-validated): %.4f" % expected_calibration_error(
        probs[answerable], cal_y[answerable].astype(float)))
    for t in sorted({0.1, 0.15, 0.2, Settings().abstain_below, 0.25, 0.3, 0.35, 0.4}):
        print(f"  abstain below {t:.2f}: answerable abstain {np.mean(probs[answerable] < t):.3f}"
              f", off-corpus abstain {np.mean(probs[~answerable] < t):.3f}")
    model = LogisticRegression(C=1.0, max_iter=2000).fit(cal_x, cal_y, sample_weight=cal_w)
    params = {
        "weights": {n: round(float(v), 5) for n, v in zip(names, w_all) if v},
        "confidence": {**{n: round(float(v), 5) for n, v in zip(CONFIDENCE_FEATURES,
                                                                  model.coef_[0])},
                       "bias": round(float(model.intercept_[0]), 5)},
        "trained_on": ", ".join([args.squad.name] + [Path(spec.rsplit(":", 1)[1]).name
                                                     for spec in args.docs]),
    }
    print(json.dumps(params, indent=2))
    if args.write:
        args.out.write_text(json.dumps(params, indent=2) + "\n")
        print(f"wrote {args.out}")


ABLATION_GROUPS = {
    "dense sentence": ["z_s_dense", "s_dense"],
    "dense passage": ["z_p_dense", "p_dense"],
    "BM25 sentence": ["z_s_lex", "s_lex_rel"],
    "BM25 passage": ["z_p_lex", "p_lex_rel"],
    "word overlap": ["coverage", "coverage_idf", "phrases", "missing_names", "proximity"],
    "words by meaning": ["meaning", "z_meaning"],
    "answer types": ["answer_type"],
    "shape": ["novelty", "log_len"],
}


def cross_validate(x: np.ndarray, y: np.ndarray, qid: np.ndarray, folds: list[set[str]],
                   q_article: dict[int, str], l2: float, use: np.ndarray) -> tuple[float, float]:
    """Article-grouped 4-fold P@1 and MRR@10 of a ranker over the chosen features."""
    scores = np.zeros(len(x))
    for fold in folds:
        train = np.array([q_article[int(q)] not in fold for q in qid])
        w = fit_ranker(x[train][:, use], y[train], qid[train], l2)
        scores[~train] = x[~train][:, use] @ w
    return ranking_metrics(scores, y, qid, None)


def ablation(x: np.ndarray, y: np.ndarray, qid: np.ndarray, folds: list[set[str]],
             q_article: dict[int, str], l2: float) -> None:
    """Print a markdown table: each signal alone, the fixed z-sum, all, and all but each group."""
    names = list(features.FEATURES)

    def mask(keep: list[str]) -> np.ndarray:
        return np.array([n in keep for n in names])

    rows = [("z-score sum of the 4 signals (fixed weights)",
             ranking_metrics(x @ RankingParams().weight_vector(), y, qid, None))]
    for label in ("dense sentence", "BM25 sentence"):
        rows.append((f"{label} only (learned)", cross_validate(
            x, y, qid, folds, q_article, l2, mask(ABLATION_GROUPS[label]))))
    four = sum((ABLATION_GROUPS[g] for g in ("dense sentence", "dense passage", "BM25 sentence",
                                            "BM25 passage")), [])
    rows.append(("4 signals, learned weights", cross_validate(
        x, y, qid, folds, q_article, l2, mask(four))))
    rows.append(("all features", cross_validate(x, y, qid, folds, q_article, l2,
                                                np.ones(len(names), bool))))
    for label, group in ABLATION_GROUPS.items():
        rows.append((f"all but {label}", cross_validate(
            x, y, qid, folds, q_article, l2, ~mask(group))))
    print("| ranker (cross-validated by article) | P@1 | MRR@10 |\n|---|---|---|")
    for label, (p1, mrr) in rows:
        print(f"| {label} | {p1:.4f} | {mrr:.4f} |")


def per_question_any(y: np.ndarray, qid: np.ndarray) -> list[bool]:
    """Whether each question has at least one right candidate (candidate recall)."""
    return [bool(y[rows].any()) for rows in per_question(qid)]


if __name__ == "__main__":
    main()

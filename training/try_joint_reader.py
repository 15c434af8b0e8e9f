"""Try the embedding model as a reader: question and sentence read together, a head trained on top.

Usage: python training/try_joint_reader.py [--top 10] [--l2 1e-3 1e-4 1e-5]

No reader model (a cross-encoder) installs here, so this asks whether all-MiniLM-L6-v2, run
frozen on the pair "question [SEP] title › section: sentence", carries what a reader would: the
mean token states of the question's part and of the sentence's part, their product and
distance, and the mean of all, go into a linear head beside the shipped ranking score. The head
re-ranks each question's top candidates (listwise, `training.fit_ranking.fit_ranker`); for
comparison, the same head over the two texts embedded apart (a learnt, diagonal similarity).
Cross-validated by article on SQuAD; fitted on all of SQuAD and scored on the Python and
PostgreSQL documentation sets (their indexes as `training/docs_index.py` opens them). The
figures are in docs/ranking.md. Reading SQuAD's 54,000 pairs together takes about 13 minutes on two cores.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.bench_docs import MANUALS
from embeddings.model import Embedder, model_path
from qa.answering import features
from qa.answering.answerer import RankingParams
from qa.app.evaluation import judge
from qa.indexing.indexer import sentence_input
from qa.reading.layout import SECTION_SEPARATOR
from training.docs_index import collect_docs
from training.fit_ranking import collect, fit_ranker, ranking_metrics
from training.squad_index import CACHE, DEFAULT_SQUAD


def top_pairs(collected: list[tuple], top: int) -> tuple[list[tuple[str, str]], list[dict]]:
    """Each answerable question's `top` candidates by the shipped ranking, as model inputs."""
    weights = RankingParams.load().weight_vector()
    pairs, questions = [], []
    for q, cands, titles, *rest in collected:
        if not len(cands) or q.unanswerable:
            continue
        sources = rest[0] if rest else None
        score = features.build(q.question, cands, titles) @ weights
        best = np.argsort(-score, kind="stable")[:top]
        right = []
        for i in best:
            r = cands.rows[i]
            right.append(judge(q, r.text, r.doc_id, r.start, r.end,
                               sources.get(r.doc_id) if sources is not None else None))
            section = r.context.replace("\x1f", SECTION_SEPARATOR)
            pairs.append((q.question, sentence_input(titles.get(r.doc_id, ""), r.text, section)))
        questions.append({"group": q.group or q.source or q.question, "score": score[best],
                          "right": np.array(right, bool)})
    return pairs, questions


def encode(pairs: list[tuple[str, str]], batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Read together: [question part, sentence part, all] mean states; apart: the two vectors."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(2)
    name = model_path("all-MiniLM-L6-v2")
    tokenizer, model = AutoTokenizer.from_pretrained(name), AutoModel.from_pretrained(name).eval()

    def mean(h: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
        v = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return torch.nn.functional.normalize(v, dim=-1).numpy()

    joint = np.zeros((len(pairs), 3, 384), np.float32)
    order = np.argsort([len(q) + len(s) for q, s in pairs])
    for b in range(0, len(pairs), batch):
        idx = order[b:b + batch]
        qs, ss = [pairs[i][0] for i in idx], [pairs[i][1] for i in idx]
        with torch.no_grad():
            enc = tokenizer(qs, ss, padding=True, truncation="only_second", max_length=256,
                            return_tensors="pt")
            h = model(**enc).last_hidden_state
            m, second = enc["attention_mask"].float(), enc["token_type_ids"].float()
            joint[idx] = np.stack([mean(h, m * (1 - second)), mean(h, m * second), mean(h, m)], 1)
    # Apart: each distinct question and sentence once, by the model as the index runs it.
    texts = sorted({t for pair in pairs for t in pair})
    row = {t: i for i, t in enumerate(texts)}
    vectors = Embedder().encode(texts)
    apart = np.stack([vectors[[row[q] for q, _ in pairs]], vectors[[row[s] for _, s in pairs]]], 1)
    return joint, apart


def head_inputs(questions: list[dict], joint: np.ndarray, apart: np.ndarray, kind: str
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows [shipped score, head features], labels and question ids."""
    q, s = (joint[:, 0], joint[:, 1]) if kind == "together" else (apart[:, 0], apart[:, 1])
    extra = np.hstack([q * s, np.abs(q - s), joint[:, 2]]) if kind == "together" else q * s
    score = np.concatenate([x["score"] for x in questions])
    y = np.concatenate([x["right"] for x in questions])
    qid = np.concatenate([np.full(len(x["right"]), i) for i, x in enumerate(questions)])
    return np.hstack([score[:, None], extra]).astype(np.float64), y, qid


def p_at_1(scores: np.ndarray, y: np.ndarray, qid: np.ndarray) -> float:
    """Share of questions whose best-scored candidate is right."""
    return ranking_metrics(scores, y, qid, None)[0]


def main() -> None:
    """Encode, fit, cross-validate, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--l2", type=float, nargs="+", default=[1e-3, 1e-4, 1e-5])
    args = parser.parse_args()
    sets = {"SQuAD": collect(DEFAULT_SQUAD, False)}
    for manual, (_, _, questions) in MANUALS.items():
        sets[manual] = collect_docs(CACHE / f"index-docs-{manual}", questions)
    encoded = {}
    for name, collected in sets.items():
        pairs, questions = top_pairs(collected, args.top)
        print(f"{name}: {len(questions)} questions, {len(pairs)} pairs", flush=True)
        encoded[name] = (questions, *encode(pairs))
    squad_q = encoded["SQuAD"][0]
    groups = np.array([x["group"] for x in squad_q])
    articles = sorted(set(groups))
    for kind in ("apart", "together"):
        x, y, qid = head_inputs(*encoded["SQuAD"], kind)
        print(f"{kind}: shipped ranking, SQuAD P@1 {p_at_1(x[:, 0], y, qid):.4f} (fitted on it)")
        for l2 in args.l2:
            cv = np.zeros(len(x))
            for k in range(4):
                test = np.isin(groups[qid], articles[k::4])
                cv[test] = x[test] @ fit_ranker(x[~test], y[~test], qid[~test], l2)
            w = fit_ranker(x, y, qid, l2)
            line = [f"  l2 {l2:g}: SQuAD cross-validated {p_at_1(cv, y, qid):.4f}"]
            for manual in MANUALS:
                xd, yd, qd = head_inputs(*encoded[manual], kind)
                line.append(f"{manual} {p_at_1(xd[:, 0], yd, qd):.3f} -> "
                            f"{p_at_1(xd @ w, yd, qd):.3f}")
            print(", ".join(line), flush=True)


if __name__ == "__main__":
    main()

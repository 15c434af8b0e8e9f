"""Train the verifier's sentence-pair model: does this sentence answer this question?

Usage: python training/train_pair_model.py [--layers 3] [--epochs 2] [--write]

all-MiniLM-L6-v2 (the packaged weights) reads the question and a sentence together, as one
input, and a linear head on its mean-pooled output says whether the sentence answers. Only the
top `--layers` transformer layers and the head are trained, which on two CPU cores runs at
~17 pairs/s; the rest of the model stays as packaged, so the shipped file
(`embeddings/pair_model.npz`, float16) holds just the trained layers.

Data: the examples `training/fit_abstention.py` collects from the public SQuAD 2.0 development
articles: for every question its two best-ranked sentences (and the best-ranked right one),
labelled by the ReQA judge; every sentence an unanswerable question meets is a negative.
The articles are split in two: a model trained on each half scores the other half's questions,
and those out-of-article scores are what the verifier's network learns to weigh
(`bench/.cache/pair-scores-*.npy`). The shipped model is then trained on every article.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embeddings.pair_model import (  # noqa: E402
    MAX_TOKENS,
    PAIR_MODEL_FILE,
    build_torch_model,
    trained_state,
)
from training.fit_abstention import CACHE, DEFAULT_SQUAD2, collect  # noqa: E402

Pair = tuple[str, str, float]


def training_pairs(examples: list[dict], articles: set[str]) -> list[Pair]:
    """Question-sentence pairs of the chosen articles' questions, with their labels."""
    out, seen = [], set()
    for e in examples:
        if e["kind"] != "own" or e["group"] not in articles:
            continue
        for text, right in e["pairs"][:2] + e["pairs"][3:]:  # two best, and the right one
            if (e["question"], text) not in seen:
                seen.add((e["question"], text))
                out.append((e["question"], text, float(right)))
    return out


def batches(pairs: list[Pair], size: int, shuffle: bool, seed: int) -> list[list[Pair]]:
    """Group pairs of similar length (less padding), in random order when training."""
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    groups = [[pairs[i] for i in order[j:j + size]] for j in range(0, len(order), size)]
    if shuffle:
        random.Random(seed).shuffle(groups)
    return groups


def train(pairs: list[Pair], layers: int, epochs: int, lr: float, seed: int = 0):  # noqa: ANN201
    """Fine-tune the top layers and the head on labelled pairs."""
    import torch

    torch.manual_seed(seed)
    tokenizer, model = build_torch_model(trainable_layers=layers)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([{"params": [p for n, p in model.named_parameters()
                                         if p.requires_grad and not n.startswith("head")]},
                             {"params": model.head.parameters(), "lr": lr * 20}], lr=lr,
                            weight_decay=0.01)
    steps = epochs * ((len(pairs) + 31) // 32)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[lr, lr * 20], total_steps=steps,
                                                pct_start=0.1)
    model.train()
    done, t0 = 0, time.time()
    for epoch in range(epochs):
        for batch in batches(pairs, 32, True, seed + epoch):
            enc = tokenizer([b[0] for b in batch], [b[1] for b in batch], padding=True,
                            truncation="only_second", max_length=MAX_TOKENS, return_tensors="pt")
            logits = model(**enc)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, torch.tensor([b[2] for b in batch]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            done += len(batch)
            if done % 1024 < 32:
                print(f"  epoch {epoch} {done}/{epochs * len(pairs)} pairs, loss {loss.item():.3f}, "
                      f"{done / (time.time() - t0):.1f} pairs/s", flush=True)
    model.eval()
    return tokenizer, model


def score(tokenizer, model, pairs: list[tuple[str, str]]) -> np.ndarray:  # noqa: ANN001
    """The model's logit for each pair."""
    import torch

    out = np.zeros(len(pairs), np.float32)
    index = {p: i for i, p in enumerate(pairs)}
    with torch.no_grad():
        for batch in batches([(q, s, 0.0) for q, s in pairs], 64, False, 0):
            enc = tokenizer([b[0] for b in batch], [b[1] for b in batch], padding=True,
                            truncation="only_second", max_length=MAX_TOKENS, return_tensors="pt")
            for (q, s, _), v in zip(batch, model(**enc).numpy()):
                out[index[(q, s)]] = v
    return out


def main() -> None:
    """Cross-fit by article halves, then train the shipped model on every article."""
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("squad", nargs="?", type=Path, default=DEFAULT_SQUAD2)
    parser.add_argument("--layers", type=int, default=3, help="top layers to train")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", action="store_true", help=f"save {PAIR_MODEL_FILE.name}")
    parser.add_argument("--skip-cv", action="store_true", help="only train the shipped model")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    examples = collect(args.squad, refresh=False)
    articles = sorted({e["group"] for e in examples})
    halves = [set(articles[0::2]), set(articles[1::2])]
    asked = [(e["question"], e["evidence"].sentence) for e in examples]
    scores_file = CACHE / f"pair-scores-{args.squad.stem}.npy"
    if not args.skip_cv:
        cv = np.zeros(len(examples), np.float32)
        for k, half in enumerate(halves):
            other = set(articles) - half
            pairs = training_pairs(examples, half)
            print(f"half {k}: training on {len(pairs)} pairs of {len(half)} articles")
            tokenizer, model = train(pairs, args.layers, args.epochs, args.lr)
            held = [i for i, e in enumerate(examples) if e["group"] in other]
            cv[held] = score(tokenizer, model, [asked[i] for i in held])
        np.save(scores_file, cv)
        print(f"wrote {scores_file}")
    pairs = training_pairs(examples, set(articles))
    print(f"shipped model: training on {len(pairs)} pairs of {len(articles)} articles")
    tokenizer, model = train(pairs, args.layers, args.epochs, args.lr)
    if args.write:
        np.savez_compressed(PAIR_MODEL_FILE, layers=np.array(args.layers),
                            **{k: v.astype(np.float16) for k, v in trained_state(model).items()})
        print(f"wrote {PAIR_MODEL_FILE}")


if __name__ == "__main__":
    main()

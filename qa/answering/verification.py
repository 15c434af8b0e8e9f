"""Verification: does the best sentence answer the question, or only look like it does?

Ranking picks the sentence that best matches a question; matching is not answering. A question
about the documents' subject that they do not answer ("What was the name of the polar bear
mascot?") still meets a sentence sharing most of its words. The verifier looks at the ranked
first sentence the way a careful reader would: which of the question's words, names and numbers
the sentence and its passage leave unsupported, whether it holds the kind of thing asked for
(a name for "what was the name", a person for "who", a number for "how many") that the question
does not already say, whether one of them negates or contradicts the other, and how the
ranking's own signals stand. A logistic regression trained on SQuAD 2.0's public questions
(`training/fit_abstention.py`) turns that into the probability that the sentence is a right
answer; where that is low it overrules the ranking's confidence (`qa.answering.answerer.combine`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answering import features
from qa.text.words import WORD, code_names, question_keys, question_terms

PARAMS_FILE = Path(__file__).with_name("verifier_params.json")

_NEGATION = re.compile(r"\b(not|never|no|none|nothing|nobody|neither|nor|without|cannot|"
                       r"unable|fail(ed|s)?|\w+n't)\b", re.I)
_NAME_ASKED = re.compile(r"\b(name[sd]?|called|titled?|known as)\b", re.I)
_PROPER = re.compile(r"\b[A-Z][\w\-]*(?:\s+(?:of|the|de|von|van)?\s*[A-Z][\w\-]*)*")
_NUMBER = re.compile(r"\d[\d,.]*")
_EXTREME = re.compile(r"\b(first|last|only|most|least|largest|smallest|biggest|highest|lowest|"
                      r"earliest|latest|longest|shortest|oldest|newest|best|worst|main|"
                      r"primary|major|minor)\b", re.I)

_OPPOSITES = """before after; high low; higher lower; highest lowest; first last; most least;
largest smallest; biggest smallest; larger smaller; more less; more fewer; increase decrease;
increased decreased; earliest latest; early late; earlier later; north south; east west;
northern southern; eastern western; maximum minimum; major minor; open closed; win lose;
won lost; start end; began ended; rise fall; rose fell; positive negative; ancient modern;
old new; oldest newest; older newer; above below; upper lower; inside outside; male female;
longest shortest; longer shorter; long short; wide narrow; heavy light; hot cold; warm cool;
wet dry; success failure; successful unsuccessful; legal illegal; public private;
internal external; import export; imports exports; accept reject; accepted rejected;
allow forbid; allowed banned; true false; same different; common rare; strong weak;
stronger weaker; fast slow; faster slower; top bottom; entry exit; inner outer; official
unofficial; direct indirect; possible impossible; permanent temporary; majority minority;
left right; western eastern""".replace("\n", " ")
ANTONYMS: dict[str, set[str]] = {}
for _pair in _OPPOSITES.split(";"):
    _a, _b = _pair.split()
    ANTONYMS.setdefault(_a, set()).add(_b)
    ANTONYMS.setdefault(_b, set()).add(_a)

FEATURES = (
    # The ranking's own view: the confidence inputs (see `qa.answering.answerer.CONFIDENCE_FEATURES`).
    "score", "margin", "margin_dense", "s_dense", "p_dense", "coverage", "meaning",
    "missing_names", "coverage_idf", "phrases", "proximity", "answer_type",
    # Question words the sentence, and then its whole passage, leave unsupported.
    "unmet_sentence", "unmet_sentence_idf", "rarest_unmet_sentence",
    "unmet_passage", "unmet_passage_idf", "rarest_unmet_passage",
    "names_unmet_passage", "numbers_unmet_passage",
    # The kind of answer asked for and whether the sentence holds a new one. (Which kind was
    # asked is left out on purpose: SQuAD 2.0's writers favoured some kinds for unanswerable
    # questions, a habit of theirs and not of documents; it cost ordinary "how far" questions.)
    "asks_name", "new_proper", "new_number", "kind_missing",
    # Negation, a superlative or an opposite on one side only.
    "negation_mismatch", "extreme_mismatch", "antonym_swap",
    # Question words the sentence meets neither as written nor in meaning (word vectors).
    "unmet_meaning_idf", "weakest_meaning",
)


@dataclass(frozen=True)
class Evidence:
    """What the verifier reads about the best sentence: its text, its passage and title."""

    sentence: str
    passage: str
    title: str


def _missing(terms: list[str], places: dict[str, tuple[int, ...]]) -> list[bool]:
    """For each question word, whether a text lacks it (in any form `features` accepts)."""
    return [not any(k in places for k in question_keys(t)) for t in terms]


def unmet(missing: list[bool], weights: list[float]) -> tuple[float, float, float]:
    """Share of question words (plain, rarity-weighted) a text lacks (`_missing`), and the
    rarest one's weight: one unsupported rare word ("Helsinki") is often the whole difference."""
    if not missing:
        return 0.0, 0.0, 0.0
    total = sum(weights) or 1.0
    lost = [w for w, m in zip(weights, missing) if m]
    return sum(missing) / len(missing), sum(lost) / total, max(lost, default=0.0)


def row(question: str, evidence: Evidence, confidence_row: dict[str, float],
        idf: dict[str, float], meaning: dict[str, float]) -> np.ndarray:
    """Compute the verifier's features (FEATURES order) for one question and its best sentence.

    Training calls this too, so the model is fitted on exactly what serving computes.
    """
    terms = question_terms(question)
    top_idf = max(idf.values(), default=1.0) or 1.0
    # Rarity on a 0-1 scale; a word the corpus lacks counts as the rarest.
    weights = [idf.get(t, top_idf) / top_idf for t in terms]
    sentence, context = evidence.sentence, f"{evidence.title}\n{evidence.passage}"
    missing_here = _missing(terms, features.traits(sentence).places)
    s_share, s_idf, s_rare = unmet(missing_here, weights)
    # A passage is read here once per question: analysed afresh, not kept with the sentences'.
    p_share, p_idf, p_rare = unmet(_missing(terms, features.places(context)), weights)
    lowered_context = context.lower()
    names = features.question_names(question)
    numbers = set(_NUMBER.findall(question))
    kinds = features.question_types(question)
    asked_words = set(WORD.findall(question.lower()))
    new_proper = any(not set(WORD.findall(m.group(0).lower())) <= asked_words
                     for m in _PROPER.finditer(sentence) if m.start() > 0)
    new_number = any(n not in numbers for n in _NUMBER.findall(sentence))
    asks_name = bool(_NAME_ASKED.search(question))
    wants_name = asks_name or kinds["type_person"] or kinds["type_place"]
    wants_number = kinds["type_quantity"] or kinds["type_date"] or kinds["type_duration"]
    kind_missing = float((wants_name and not new_proper) or
                         (wants_number and not new_number and
                          not confidence_row.get("answer_type", 0.0)))
    q_neg, s_neg = bool(_NEGATION.search(question)), bool(_NEGATION.search(sentence))
    # "Can I ...?" answered "... cannot ...": to a yes/no question a denial is the answer, not
    # a contradiction.
    negation_mismatch = q_neg != s_neg and not features.asks_yes_no(question)
    q_ext = {m.lower() for m in _EXTREME.findall(question)}
    s_ext = {m.lower() for m in _EXTREME.findall(sentence)}
    q_words, s_words = asked_words, set(WORD.findall(sentence.lower()))
    swapped = any(w not in s_words and ANTONYMS[w] & s_words for w in q_words & ANTONYMS.keys())
    # Meaning: each question word's best cosine to the sentence's words (1 when it is there).
    met = [(max(meaning.get(t, 0.0), 0.0 if m else 1.0), w)
           for t, w, m in zip(terms, weights, missing_here)]
    total = sum(weights) or 1.0
    values = {
        **confidence_row,
        "unmet_sentence": s_share, "unmet_sentence_idf": s_idf, "rarest_unmet_sentence": s_rare,
        "unmet_passage": p_share, "unmet_passage_idf": p_idf, "rarest_unmet_passage": p_rare,
        "names_unmet_passage": (sum(n not in lowered_context for n in names) / len(names))
        if names else 0.0,
        "numbers_unmet_passage": float(any(n not in context for n in numbers)),
        "asks_name": float(asks_name), "new_proper": float(new_proper),
        "new_number": float(new_number), "kind_missing": kind_missing,
        "negation_mismatch": float(negation_mismatch),
        "extreme_mismatch": float(bool(q_ext - s_ext)),
        "antonym_swap": float(swapped),
        "unmet_meaning_idf": sum(w * (1.0 - c) for c, w in met) / total,
        "weakest_meaning": min((c for c, _ in met), default=1.0),
    }
    return np.array([float(values.get(name, 0.0)) for name in FEATURES], dtype=np.float32)


_IDENTIFIER_PARTS = re.compile(r"[.()@\-]+")


def meets_own_words(question: str, evidence: Evidence) -> bool:
    """Whether a follow-up's answer holds any word of the follow-up itself (as written, or in
    a form `features` accepts), in the sentence, its headings or its passage; a follow-up with
    no word of its own ("Why not?") leans wholly on the earlier turn and passes."""
    terms = question_terms(question)
    if not terms:
        return True
    places = features.places(f"{evidence.title}\n{evidence.passage}\n{evidence.sentence}")
    return not all(_missing(terms, places))


def unmet_identifiers(question: str, evidence: Evidence) -> list[str]:
    """The code names the question asks about that the quote, its headings and its passage
    never write, word for word ("requests" is not "request"): a quote about another name is
    about something else, however close it reads."""
    text = f"{evidence.title} {evidence.passage} {evidence.sentence}".lower()
    written = set(WORD.findall(text))
    unmet = []
    for written_name in code_names(question):
        name = written_name.lower()
        if name.startswith("-"):  # an option is met as itself ("-m"), not as a word
            met = re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None
        else:
            met = all(p in written for p in _IDENTIFIER_PARTS.split(name) if len(p) > 1)
        if not met:
            unmet.append(written_name)
    return unmet


class Verifier:
    """The trained judge: a small network (or a logistic regression) over `FEATURES`, loaded
    from JSON."""

    def __init__(self, params: dict) -> None:
        """Keep the standardisation and the layers as arrays, ready for one row at a time."""
        names = list(params["features"])
        if names != list(FEATURES):
            raise ValueError("verifier parameters were fitted on other features; "
                             "run training/fit_abstention.py --write")
        self.mean = np.array(params["mean"], np.float32)
        self.scale = np.array(params["scale"], np.float32)
        self.layers = [(np.array(w, np.float32), np.array(b, np.float32))
                       for w, b in params["layers"]]

    @classmethod
    def load(cls, path: Path = PARAMS_FILE) -> Verifier | None:
        """Read the shipped verifier; None when it is not there (confidence then comes from
        the ranking's calibration alone)."""
        if not path.exists():
            return None
        return cls(json.loads(path.read_text()))

    def probability(self, rows: np.ndarray) -> np.ndarray:
        """Chance that each best sentence is a right answer."""
        h = (np.atleast_2d(rows) - self.mean) / self.scale
        for i, (w, b) in enumerate(self.layers):
            h = np.einsum("nd,dk->nk", h, w) + b  # einsum: no BLAS threads woken for a row
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return 1.0 / (1.0 + np.exp(-np.clip(h[:, 0], -30, 30)))

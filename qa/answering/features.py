"""Ranking features: what the answerer knows about each candidate sentence, as one numeric row.

Signals are put on a per-question scale (z-scores) for ranking and kept raw for confidence, since
"best of these candidates" and "good in absolute terms" are different questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from qa.answering.retrieval import SIGNALS, Candidates
from qa.reading.layout import (
    ROW_SEPARATOR,
    SECTION_SEPARATOR,
    STORED_SEPARATOR,
    readable_context,
    sentence_keys,
    term_name,
    term_names,
)
from qa.text.asked import terms_asked
from qa.text.memo import Memo
from qa.text.words import (
    CODE_NAME,
    STOPWORDS,
    WORD,
    code_name,
    code_names,
    code_names_meet,
    named_keys,
    question_keys,
    question_terms,
    text_keys,
)

# Signals whose weight differs for sentences under a section (see "sectioned_" below).
SECTIONED = ("z_s_dense", "z_p_dense", "z_s_lex", "z_p_lex", "coverage", "coverage_idf",
             "proximity", "meaning", "z_meaning", "own_coverage_idf", "novelty")

FEATURES = (
    "z_s_dense", "z_p_dense", "z_s_lex", "z_p_lex",  # per-question standardised signals
    "s_dense", "p_dense",                              # raw cosines
    "s_lex_rel", "p_lex_rel",                          # BM25 relative to the best candidate
    "coverage",                                        # share of question words present
    "coverage_idf",                                    # the same, rarer words counting more
    "answer_type",  # holds the kind of answer asked for (a date, a person...), not in the question
    "novelty",                                         # words the question does not already say
    "log_len",                                         # longer sentences say more
    "missing_names",                                   # names in the question the source lacks
    "phrases",                                         # question word pairs found as pairs
    "proximity",                                       # question words close together
    "meaning", "z_meaning",  # question words met in meaning ("start" by "began"), raw and z
    "own_coverage_idf",  # rarity-weighted share of question words in the sentence itself
    "context_idf",  # ... in the headings or term it stands under (none for plain text)
    "opens",  # the first sentence under its headings or term (a definition's first line)
    "row",  # a table row, quoted whole
    "names_entry",  # the question names the option or code whose entry or row this is ("-a")
    "yes_no",  # a yes/no question met by a sentence that affirms or denies ("cannot", "only")
    "names_term",  # the question writes the code name this sentence's term defines (TypeError),
    # or asks what the term is ("What is a savepoint?" and the glossary's "Savepoint")
    "defines_thing",  # "Which setting ...?": the first sentence of an entry of a thing of code
    "points_elsewhere",  # it only sends the reader elsewhere ("For more information, see X.")
    # The same signals again for sentences that stand under a section or term (laid-out
    # documents: manuals, reports), zero elsewhere: a manual's reader asks in their own words,
    # so matching words there says less, and meaning more, than in prose read line by line.
    *(f"sectioned_{name}" for name in SECTIONED),
)

_MONTHS = (r"jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t|tember)?|"
           r"oct(ober)?|nov(ember)?|dec(ember)?")
_NUMBER_WORDS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
                 r"thirty|forty|fifty|sixty|hundred|thousand|million|billion|dozen|half|several")
_QUESTION_TYPES = {
    "type_date": re.compile(
        r"^\s*when\b|\b(what|which|in what) (years?|months?|days?|dates?|times?|decades?|"
        r"century|centuries|seasons?)\b|"
        r"\bhow long ago\b", re.I),
    "type_duration": re.compile(
        r"\bhow long\b|\bfor how (long|many (days|hours|years|months|weeks|minutes))\b|"
        r"\bhow much time\b|\b(what|which) (duration|length|distance)\b", re.I),
    "type_quantity": re.compile(
        r"\bhow (many|much|far|fast|big|large|tall|old|often|high|deep|heavy|wide|long)\b|"
        r"\b(what|which) (percentages?|percent|numbers?|amounts?|sizes?|population|"
        r"temperatures?|speeds?|costs?|prices?|ages?)\b|"
        # A limit: "What is the most columns a table can have?", "... the minimum distance
        # between ..." (not "the most common language", which asks for a name).
        r"\b(what|which) (is|are|was|were) the (max(imum)?|min(imum)?|most|fewest|largest|"
        r"biggest|highest|lowest|smallest|longest|shortest|greatest|least)\b(?! (common|popular|"
        r"important|famous|likely|frequent|notable|significant|recent|prominent|influential|"
        r"powerful|successful|widely|commonly|used|well|basic|critical|effective|valuable|"
        r"expensive|dangerous|advanced|prestigious))( \w+){0,3} (a|an|one|each|per|i|you|we|it|"
        r"they|can|could|may|might|will|allowed)\b", re.I),
    "type_person": re.compile(r"^\s*(who|whom|whose)\b|\b(who|whom|whose)\b", re.I),
    "type_place": re.compile(
        r"^\s*where\b|\bwhere\b|\b(what|which|in what|in which) (city|cities|country|countries|"
        r"states?|regions?|places?|towns?|continents?|islands?|rivers?|locations?|provinces?|"
        r"nations?|county|counties|modules?|buildings?)\b",
        re.I),
    "type_reason": re.compile(r"^\s*why\b|\bwhy\b|\b(what|which) (was|is|were|are) the (reason|"
                              r"cause|purpose)|\bfor what (reason|purpose)\b|\bhow come\b", re.I),
    # A thing a manual names, asked for by what it does: "Which setting controls ...?", "What
    # function returns ...?". Manuals answer it in the entry of that thing ("work_mem
    # (integer)": "Sets the base maximum amount of memory ...") or a sentence naming it. "Is
    # there an option that ...?" asks the same.
    "type_code": re.compile(
        r"\b(which|what|(is|are) there (a|an|any|some))\s+"
        r"((?!(is|are|was|were|does|do|did|can|could|should|would|will|"
        r"has|have|happens?)\b)\S+\s+)?(functions?|commands?|settings?|options?|parameters?|"
        r"variables?|views?|catalogs?|methods?|decorators?|exceptions?|flags?|switch(es)?|"
        r"utilit(y|ies)|modules?|attributes?|operators?|subcommands?|built-?ins?|"
        r"(configuration|environment|server|data)\s+(variables?|parameters?|settings?|types?))\b"
        r"(?!\s+(is|was|are|were|does|did|do|of|has|had)\b)", re.I),
    # How two things differ: "How is str.casefold() different from str.lower()?", "What does
    # VACUUM FULL do that a plain VACUUM does not?".
    "type_contrast": re.compile(
        r"\bhow (is|are|does|do|did|was|were)\b.+\bdiffer|\bdiffer(s|ed)? from\b|"
        r"\bdifferent from\b|\bdifferences? between\b|"
        r"\bthat (a |an |the )?(plain|regular|normal|ordinary|simple) [\w ]+ (does|do|is|are|can)"
        r"(n't| not)\b", re.I),
    # What holds when nobody chose otherwise: manuals answer it as "The default is 4.0.",
    # "5432 by default", "Defaults to true.", "If omitted, ...".
    "type_default": re.compile(
        r"\bdefaults?\b|\bout of the box\b|\bfresh (cluster|install\w*|database|server|setup)\b|"
        r"(\b(i|you|we|they|one|it) (never|don't|do not|didn't|did not|haven't|have not|"
        r"doesn't|does not)|\bnobody|\bno one)\s+(\w+\s+)?(change[ds]?|set|tune[ds]?|"
        r"touch(ed)?|configured?|name[ds]?|specif(y|ied)|pass|give|say|ask(ed)?|adjust(ed)?|"
        r"pick(ed)?|choose|chose)\b|"
        r"\bunless (i|you|we|they|one|it|someone|somebody)\b|"
        r"\bleave (it|the \w+|\w+ \w+) alone\b|\bleft (alone|unset|untouched)\b|"
        r"\bwithout (setting|specifying|changing|configuring|passing|giving|naming|tuning)\b|"
        r"\bif (it is |it's |)(left )?(unset|not (set|specified|given|changed))\b", re.I),
}
# Kinds a question asks for by naming the answer's own marker ("the default ..."): the marker
# in the sentence counts even though the question says it too.
_NAMED_KINDS = frozenset({"type_default"})
_ANSWER_SHAPES = {
    "type_date": re.compile(
        rf"\b(1[0-9]{{3}}|20[0-9]{{2}})s?\b|\b({_MONTHS})\b\.?|\b(monday|tuesday|wednesday|"
        r"thursday|friday|saturday|sunday|yesterday|today|tomorrow|morning|afternoon|evening|"
        r"night|century|decade|spring|summer|autumn|winter)\b|\d{1,2}:\d{2}\s*(am|pm)?", re.I),
    "type_duration": re.compile(
        rf"\b(\d[\d,.]*|{_NUMBER_WORDS}|an?|few|more than an?)[\s-]+(second|minute|hour|day|"
        r"week|month|year|decade|centur(y|ies)|mile|kilomet(er|re)|km|met(er|re)|feet|foot)s?\b|"
        # How long something lasts, said by what ends it: manuals answer "How long does a
        # prepared statement stay around?" with "... last for the duration of the session".
        r"\b(for|during) the (whole |entire )?(duration|life(time)?|rest|remainder) of\b|"
        r"\b(until|till)\b(?!\s*\d)|\bas long as\b|\b(forever|indefinitely|"
        r"permanently)\b", re.I),
    "type_quantity": re.compile(rf"\d|\b({_NUMBER_WORDS})\b|[$£€¥%]", re.I),
    "type_person": re.compile(r"(?<!^)\b[A-Z][a-z]+(?:[\s-][A-Z][a-z]+)*"),
    "type_place": re.compile(r"(?<!^)\b[A-Z][a-z]+(?:[\s-][A-Z][a-z]+)*"),
    "type_reason": re.compile(r"\b(because|since|due to|owing to|as a result|reasons?|so that|"
                              r"in order to|to avoid|for safety|thanks to|caused by|impossible|"
                              r"prohibit\w*|cannot|can't)\b", re.I),
    # The words by which a sentence sets one thing against another.
    "type_contrast": re.compile(
        r"\b(but|whereas|while|unlike|instead|rather than|differs?|different(ly)?|differences?|"
        r"similar(ly)?|same as|just like|except|\w+er than|more \w+ than|less \w+ than|"
        r"in contrast|on the other hand|however)\b", re.I),
    # A code name ("os.path.exists()", "work_mem", "--schema-only") or a command in capitals
    # ("DROP DATABASE"); an entry's term counts too (`_Asked.names_thing`).
    "type_code": re.compile(
        rf"{CODE_NAME.pattern}|\b[A-Z][A-Z_]{{2,}}(?:\s+[A-Z][A-Z_]{{2,}})*\b"),
    "type_default": re.compile(r"\bdefault(s|ed)?\b|\bif (omitted|unspecified|unset|not "
                               r"(specified|given|set))\b|\bwhen omitted\b", re.I),
    # Not a kind of answer but the words by which a sentence takes a side, for a yes/no question
    # (`_Asked.takes_side`): it denies, restricts or insists.
    "polarity": re.compile(
        r"\b(not|no|never|cannot|can't|won't|doesn't|isn't|aren't|don't|must|only|always|"
        r"guaranteed|unchanged|error|unsupported|neither|nor|none|nothing|impossible|"
        r"unlimited)\b", re.I),
}
# A yes/no question ("Can I ...?", "In a C extension, should I ...?") is answered by a sentence
# that takes a side: it denies, restricts or insists ("This module does not support writing
# TOML.", "... must begin with a letter") where its siblings only describe.
_YES_NO_QUESTION = re.compile(
    r"(?:^|[,;:]\s+)(can|could|is|are|am|does|do|did|will|would|should|must|may|has|have|was|"
    r"were)\s+(i|you|we|it|they|there|my|a|an|the|this|that|these|those|its|their|[\w.()]+)\b",
    re.I)
# ... unless a question word comes first or last ("Who, with Jim Nantz, was ...?", "One of
# the sites, the Superdome, is located where?"); a leading "When X, ..." only sets the scene.
_WH_WORD = r"\b(what|which|who|whom|whose|when|where|why|how)\b"
_WH, _WH_LAST = re.compile(_WH_WORD, re.I), re.compile(_WH_WORD + r"\W*$", re.I)
_SCENE = re.compile(r"^\s*(when|if|once|after|before|while|unless|since)\b[^,?]*,\s*", re.I)
# An entry's term that names a thing of code, as its start: a signature ("reversed(seq)",
# "split_part ( string text, ..."), a setting with its type ("port (integer)"), an option
# ("-s --schema-only"), a code name ("ON_ERROR_STOP", "exception KeyError", "@functools.cache");
# not a numbered heading or a word of prose ("Description", "5.6.1. Adding a Column").
_THING = re.compile(
    rf"(?:(?:exception|class|method|function|attribute|data|property)\s+)?"
    rf"(?:{CODE_NAME.pattern}|[A-Za-z_][\w.]*\s*\((?!\s*see\b)|[A-Z][A-Z_]{{2,}}\b"
    rf"(?:\s+[A-Z][A-Z_]{{2,}}\b)*)")
THING_WORDS = 4  # the most words an entry's term has before its signature ("CONNECTION LIMIT x")
_MAN_HEADINGS = frozenset("""NAME SYNOPSIS DESCRIPTION OPTIONS EXAMPLES EXAMPLE NOTES NOTE BUGS
AUTHOR AUTHORS ENVIRONMENT FILES CONFIGURATION DISCUSSION OUTPUT HISTORY STANDARDS DIAGNOSTICS
WARNINGS CAVEATS SECURITY COMPATIBILITY HOOKS USAGE COMMANDS ARGUMENTS""".split())
# A sentence that only sends the reader elsewhere: "For more information, see SAVEPOINT.", "See
# Section 36.7.1 for a list of supported items.", "See INSERT for details." (not "See also the
# wal_decode_buffer_size settings, which limit prefetching.", which says something itself).
_NOT_A_STOP = r"(?:[^.;,]|\.(?=\w))"
_POINTER = re.compile(
    rf"^(?:for (?:more|further|additional|complete|full)?\s*(?:information|details|discussion|"
    rf"explanation|examples?)(?: (?:on|about|regarding|of) {_NOT_A_STOP}{{1,80}})?,?\s+"
    rf"(?:see|refer to|consult)\b{_NOT_A_STOP}*|(?:see|refer to|consult)(?: also)?\b"
    rf"{_NOT_A_STOP}{{0,100}}|(?:more|further) (?:information|details)(?: \w+){{0,3}} (?:can be "
    rf"found|is available|are available|is given|are given) (?:in|at|on)\b{_NOT_A_STOP}{{0,100}})"
    rf"[.)]?$", re.I)
# How a sentence opens when it draws a consequence from the one before it.
_CONSEQUENCE = re.compile(
    r"^(as a (result|consequence)|thus|therefore|hence|consequently|so(,| that means)|"
    r"this (means|is why)|that is why|for this reason|because of this|which is why)\b", re.I)
TRAITS_CACHE = 20_000  # sentences whose analysis is kept between questions
CONTEXT_WEIGHT = 0.5  # how much an earlier turn's word counts, against the question's own


# "How do I change the default port?" asks how to set it, not what it is.
_CHANGES_DEFAULT = re.compile(
    r"\b(change|changing|override|overriding|set|setting|modify|alter|configure|raise|lower|"
    r"increase|decrease|replace|reset)\s+(the |a |its |their |this |that |my )?defaults?\b", re.I)


def question_types(question: str) -> dict[str, float]:
    """Recognise what kind of answer a question asks for (a date, a duration, a person...)."""
    found = {name: 1.0 if rx.search(question) else 0.0 for name, rx in _QUESTION_TYPES.items()}
    if found["type_default"] and _CHANGES_DEFAULT.search(question):
        found["type_default"] = 0.0
    if found["type_date"] or found["type_duration"]:
        found["type_quantity"] = 0.0
    return found


def asks_yes_no(question: str) -> bool:
    """Whether a question wants a yes or a no, so a sentence that denies may be its answer."""
    question = _SCENE.sub("", question)
    found = _YES_NO_QUESTION.search(question)
    return bool(found and not _WH.search(question, 0, found.start())
                and not _WH_LAST.search(question))


Z_CLIP = 3.0


def zscore(column: np.ndarray) -> np.ndarray:
    """Put a signal on a per-question scale, clipped so one outlier cannot outvote the rest."""
    std = float(column.std())
    if std <= 1e-6:
        return np.zeros_like(column)
    return np.clip((column - float(column.mean())) / std, -Z_CLIP, Z_CLIP)


_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][\w\-]*|\b\d[\d,.]*\b")


def question_names(question: str) -> set[str]:
    """Collect the names and numbers a question mentions (capitalised words past the first)."""
    return {m.group(0).lower().strip(".,") for m in _NAME.finditer(question.strip())}


def _pairs(words: list[str]) -> set[tuple[str, str]]:
    """Adjacent content-word pairs, stemmed crudely to their first five letters."""
    stems = [w[:5] for w in words if w not in STOPWORDS]
    return set(zip(stems, stems[1:]))


@dataclass(frozen=True)
class Traits:
    """What the features need to know about one text, worked out once and then reused."""

    lowered: str
    words: frozenset[str]
    content: frozenset[str]  # words longer than two letters
    pairs: frozenset[tuple[str, str]]
    log_len: float
    # Word positions filed under each key a question word can meet them by: the word itself,
    # "^" and its first five letters, "=" and each dictionary form of a noun or verb.
    places: dict[str, tuple[int, ...]]


def _places(word_list: list[str]) -> dict[str, tuple[int, ...]]:
    """Index a text's word positions by the keys a question word meets them by (`question_keys`)."""
    found: dict[str, list[int]] = {}
    for pos, w in enumerate(word_list):
        keys = text_keys(w)
        for key in keys:
            found.setdefault(key, []).append(pos)
    return {k: tuple(v) for k, v in found.items()}


def places(text: str) -> dict[str, tuple[int, ...]]:
    """Index a text's words by the keys a question word meets them by, without remembering it
    (a passage, read once per question)."""
    return _places(WORD.findall(text.lower()))


def _traits(text: str) -> Traits:
    """Analyse a sentence or title once: the same candidates come back question after question."""
    lowered = text.lower()
    word_list = WORD.findall(lowered)
    words = frozenset(word_list)
    return Traits(lowered, words, frozenset(w for w in words if len(w) > 2),
                  frozenset(_pairs(word_list)),
                  float(np.log1p(len(text)) / 6.0), _places(word_list))


def _shapes(text: str) -> dict[str, tuple[str, ...]]:
    """Find the strings in a sentence shaped like each kind of answer (dates, names...), and
    the words by which it takes a side ("polarity")."""
    return {kind: tuple(m.group(0).lower() for m in pattern.finditer(text))
            for kind, pattern in _ANSWER_SHAPES.items()}


traits = Memo(_traits, TRAITS_CACHE)
shapes = Memo(_shapes, TRAITS_CACHE)


def answer_shapes(text: str, kind: str) -> tuple[str, ...]:
    """The strings in a sentence shaped like the kind of answer a question asks for."""
    return shapes(text)[kind]


def analyse(text: str) -> None:
    """Work out what ranking needs about a sentence before a question first meets it."""
    traits(text)
    shapes(text)


class _Asked:
    """The question's words, names and answer kinds, set up once for matching many sentences."""

    def __init__(self, question: str, conversation: str, idf: dict[str, float]) -> None:
        """Work out everything about the question that does not depend on a candidate."""
        own = question_terms(question)
        self.terms = frozenset(own + question_terms(conversation))
        # A follow-up's own words say what is new; the earlier turn's only what it is about.
        self.term_weight = {t: 1.0 if t in own else CONTEXT_WEIGHT for t in self.terms}
        self.total_weight = sum(self.term_weight.values())
        self.idf_weight = {t: w * idf.get(t, 1.0) for t, w in self.term_weight.items()}
        self.total_idf = sum(self.idf_weight.values())
        self.keys = {t: question_keys(t) for t in self.terms}
        self.by_key: dict[str, set[str]] = {}  # the other way round: key -> question words
        for t, keys in self.keys.items():
            for k in keys:
                self.by_key.setdefault(k, set()).add(t)
        self.words = frozenset(WORD.findall(f"{question} {conversation}".lower()))
        self.wanted = [name for name, on in question_types(question).items() if on]
        self.shapes = {name: set() if name in _NAMED_KINDS else
                       {m.group(0).lower() for m in _ANSWER_SHAPES[name].finditer(question)}
                       for name in [*self.wanted, "polarity"]}
        self.names = question_names(question)
        self.pairs = _pairs(WORD.findall(question.lower()))
        self.yes_no = asks_yes_no(question)
        self.code = "type_code" in self.wanted
        self.lowered = question.lower()

    def matched(self, part: Traits) -> set[str]:
        """Question words a text holds (see `question_keys` for what counts)."""
        hits: set[str] = set()
        for k in self.by_key.keys() & part.places.keys():
            hits |= self.by_key[k]
        return hits

    def share(self, hits: set[str], rare: bool = False) -> float:
        """Part of the question's words found (weighted by rarity when `rare`)."""
        weight, total = (self.idf_weight, self.total_idf) if rare else \
            (self.term_weight, self.total_weight)
        return sum(weight[t] for t in hits) / total if total else 0.0

    def answer_type(self, text: str) -> float:
        """1 when a text holds something shaped like the answer asked for (a date for "when",
        a name for "who") that the question does not already say."""
        return float(any(self._new(text, kind) for kind in self.wanted))

    def names_thing(self, text: str, context: str) -> float:
        """1 when the question asks which setting, function or command does something and a
        sentence stands in the entry of one it does not name ("work_mem (integer)", "reversed(
        seq)", "-s --schema-only"), or is a table row whose first cell names one."""
        if not self.code:
            return 0.0
        if ROW_SEPARATOR in text:
            term = text.split(ROW_SEPARATOR, 1)[0]
        elif context:
            term = context.rsplit(STORED_SEPARATOR, 1)[-1]
        else:
            return 0.0
        term = term.strip()
        found = _THING.match(term)
        # A term is short before its signature or type; a heading that opens with a name
        # ("PEP 465 - A dedicated infix operator ...", "NumPy support") says more, and a
        # manual page's headings are written in capitals ("INTERACTIVE MODE", "OPTIONS").
        if not found or len(re.split(r"[(→]", term, maxsplit=1)[0].split()) > THING_WORDS or \
                (term.isupper() and (" " in term or term in _MAN_HEADINGS)):
            return 0.0
        name = re.escape(found.group(0).lower().rstrip("( ").split()[-1])
        return float(not re.search(rf"(?<![\w-]){name}(?![\w-])", self.lowered))

    def _new(self, text: str, kind: str) -> bool:
        """Whether a text holds a string of a shape (`_ANSWER_SHAPES`) the question lacks."""
        return any(m not in self.shapes[kind] for m in answer_shapes(text, kind))

    def takes_side(self, text: str) -> float:
        """1 when the question wants a yes or a no and a text affirms or denies in words the
        question does not already use ("Can I ...?" met by "... cannot ...")."""
        return float(self.yes_no and self._new(text, "polarity"))

    def window(self, part: Traits, hits: set[str], width: int = 12) -> float:
        """Most question weight found within `width` consecutive words of a text: words of
        the question that stand together in a sentence usually say the same thing."""
        weight = self.term_weight
        most = sum(weight[t] for t in hits)
        if len(hits) < 2:
            return self.share(hits)
        get = part.places.get
        places = sorted((pos, t) for t in hits for key in self.keys[t] for pos in get(key, ()))
        best = 0.0
        for i, (start, _) in enumerate(places):
            inside = set()
            for pos, t in places[i:]:
                if pos - start >= width:
                    break
                inside.add(t)
            best = max(best, sum(weight[t] for t in inside))
            if best >= most:
                break
        return best / self.total_weight

    def meaning(self, candidates: Candidates) -> np.ndarray:
        """Each candidate's closeness in meaning to the question's words, weighted by rarity
        like `coverage_idf`: "When did the relay start?" meets "the relay began"."""
        weights = np.array([self.idf_weight.get(t, 0.0) for t in candidates.meaning_terms],
                           np.float32)
        if not len(candidates.rows) or not weights.sum():
            return np.zeros(len(candidates.rows), np.float32)
        # A question word no document holds has no vector: no sentence meets it.
        return candidates.meaning @ weights / self.total_idf

    def named(self, part: Traits) -> set[str]:
        """Question names a text mentions."""
        return {n for n in self.names if n in part.lowered}


def heading(title: str, context: str) -> str:
    """What a sentence stands under, as one line: the title, then its section or term."""
    return f"{title}{SECTION_SEPARATOR}{readable_context(context)}" if context else title


def build(question: str, candidates: Candidates, titles: dict[str, str],
          conversation: str = "") -> np.ndarray:
    """Compute the feature matrix (one row per candidate, columns in FEATURES order).

    `conversation` is earlier turns a follow-up leans on: its words count as asked-about too.
    """
    signal = {name: candidates.signals[:, j] for j, name in enumerate(SIGNALS)}
    asked = _Asked(question, conversation, candidates.idf)
    keys = named_keys(question)
    names = {code_name(n) for n in code_names(question)} - {""}
    defined = terms_asked(question)
    n_names, n_pairs = len(asked.names), len(asked.pairs)
    by_title: dict[tuple[str, str], tuple[str, set[str], set[str], float]] = {}
    seen: dict[tuple[str, str], dict[str, float]] = {}
    rows = []
    for r in candidates.rows:
        # A sentence's heading: its document's title and the section or term it stands under.
        where = (r.doc_id, r.context)
        if where not in by_title:
            title_text = heading(titles.get(r.doc_id, ""), r.context)
            title = traits(title_text)
            context = asked.matched(traits(readable_context(r.context))) if r.context else set()
            by_title[where] = (title_text, asked.matched(title), asked.named(title),
                               asked.share(context, rare=True))
        title_text, title_terms, title_names, context_idf = by_title[where]
        # The same sentence under the same title (a repeated caption, a copied page) has the
        # same words: worked out once per question.
        row = seen.get((r.text, title_text))
        if row is None:
            own = traits(r.text)
            inside = asked.matched(own)
            hit = title_terms | inside
            row = seen[(r.text, title_text)] = {
                "coverage": asked.share(hit),
                "coverage_idf": asked.share(hit, rare=True),
                "answer_type": asked.answer_type(r.text),
                "thing": asked.names_thing(r.text, r.context),
                "novelty": len(own.content - asked.words) / max(len(own.words), 1),
                "log_len": own.log_len,
                "missing_names": (1.0 - len(title_names | asked.named(own)) / n_names
                                  if n_names else 0.0),
                "phrases": len(asked.pairs & own.pairs) / n_pairs if n_pairs else 0.0,
                "proximity": asked.window(own, inside),
                "own_coverage_idf": asked.share(inside, rare=True),
                "context_idf": context_idf,
                "row": float(ROW_SEPARATOR in r.text),
                "names_entry": float(bool(keys and keys & sentence_keys(r.text, r.context))),
                "yes_no": asked.takes_side(r.text),
                "names_term": float(any(code_names_meet(n, term_name(r.context))
                                        for n in names) or
                                    bool(defined & term_names(r.context))),
                "points_elsewhere": float(_POINTER.match(r.text) is not None),
            }
        rows.append(row)
    s_lex, p_lex = signal["s_lex"], signal["p_lex"]
    meaning = asked.meaning(candidates)
    columns = {
        **{f"z_{name}": zscore(values) for name, values in signal.items()},
        "s_dense": signal["s_dense"], "p_dense": signal["p_dense"],
        "s_lex_rel": s_lex / max(float(s_lex.max()), 1e-6),
        "p_lex_rel": p_lex / max(float(p_lex.max()), 1e-6),
        "meaning": meaning, "z_meaning": zscore(meaning),
        "opens": candidates.opens if len(candidates.opens) == len(rows) else
        np.zeros(len(rows), np.float32),
    }
    # A sentence in the entry of a thing the question asks for holds the asked kind; the
    # entry's first sentence says what that thing does.
    thing = np.fromiter((row["thing"] for row in rows), np.float32, count=len(rows))
    columns["answer_type"] = np.maximum(
        np.fromiter((row["answer_type"] for row in rows), np.float32, count=len(rows)), thing)
    columns["defines_thing"] = thing * columns["opens"]
    # "Why ...?": a sentence the next one draws a consequence from ("As a result, ...") is
    # a cause, though it says no "because"; the one that draws it is the effect.
    if "type_reason" in asked.wanted and len(candidates.next_said) == len(rows):
        cause = np.fromiter((_CONSEQUENCE.match(t) is not None for t in candidates.next_said),
                            np.float32, count=len(rows))
        effect = np.fromiter((_CONSEQUENCE.match(r.text) is not None for r in candidates.rows),
                             np.float32, count=len(rows))
        columns["answer_type"] = np.maximum(columns["answer_type"] * (1.0 - effect), cause)
    for name in FEATURES:
        if name not in columns and name in rows[0] if rows else False:
            columns[name] = np.fromiter((row[name] for row in rows), dtype=np.float32,
                                        count=len(rows))
    sectioned = np.fromiter((bool(r.context) for r in candidates.rows), dtype=np.float32,
                            count=len(candidates.rows))
    for name in SECTIONED:
        columns[f"sectioned_{name}"] = columns[name] * sectioned
    return np.column_stack([columns[name] for name in FEATURES]).astype(np.float32)

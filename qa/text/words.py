"""Words: how every part of Verbatim cuts text into words and decides which ones matter.

Search, ranking, the verifier, the catalog and the chunker all read words the same way; this
module is the one place that says how.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lemminflect import getAllLemmas

from qa.text.memo import Memo

WORD = re.compile(r"\w+")  # a run of letters, digits or underscores
LETTER_WORD = re.compile(r"[^\W\d_]{2,}")  # a word of two letters or more, no digits

# Function words, plus light verbs ("come back", "go to space", "made it different") whose
# meaning lies in the words around them: SQuAD P@1 unchanged without them, two seed questions
# (a follow-up among them) no longer matched "Tyurin comes aboard" or "what made...".
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most
my myself no nor not now of off on once only or other our ours ourselves out over own same she should
so some such than that the their theirs them themselves then there these they this those through to
too under until up very was we were what when where which while who whom why will with would you your
yours yourself yourselves also s t don whose many much one ever
come comes came go goes went get gets got make makes made take takes took
""".split())

# Far more than any real question holds (SQuAD's longest has about 25); every further word would
# cost a count lookup and a column in ranking, so 2,000 characters of made-up words add nothing.
MAX_QUESTION_TERMS = 40
DOCUMENT_WORDS_KEPT = 100_000  # document words whose dictionary forms are remembered
QUESTION_WORDS_KEPT = 4096  # question words whose match keys are remembered
_LEMMA_POS = ("VERB", "NOUN")


def words(text: str) -> list[str]:
    """Cut text into lower-case words, the unit every match is made of."""
    return WORD.findall(text.lower())


def query_terms(text: str) -> list[str]:
    """Keep the content words of a text, the ones worth matching lexically, in order, once."""
    seen: dict[str, None] = {}
    for token in words(text):
        if token not in STOPWORDS and (len(token) > 1 or token.isdigit()):
            seen.setdefault(token, None)
    return list(seen)


def question_terms(text: str) -> list[str]:
    """Keep the words a question is searched and judged by: its first distinct content words,
    bounded so that a long question costs no more than a real one."""
    return query_terms(text)[:MAX_QUESTION_TERMS]


def vocabulary(text: str) -> tuple[str, ...]:
    """The words of a sentence that get a vector of their own, for matching a question's words
    by meaning ("start" and "began"): its content words of three letters or more."""
    return tuple(t for t in query_terms(text) if len(t) > 2)


def _lemmas(word: str) -> frozenset[str]:
    """Dictionary forms of a word, nouns and verbs only: "longest" is not what "how long" asks."""
    return frozenset(form for pos, forms in getAllLemmas(word).items() if pos in _LEMMA_POS
                     for form in forms)


# So "began" matches "begin" and "flew" matches "fly"; remembered for the documents' words, which
# come back question after question.
lemmas = lru_cache(maxsize=DOCUMENT_WORDS_KEPT)(_lemmas)


def text_keys(word: str) -> set[str]:
    """The keys a document's word is filed under for questions to meet it by (`question_keys`)."""
    keys = {word, *("=" + form for form in lemmas(word))} if len(word) > 2 and \
        word not in STOPWORDS else {word}
    if len(word) >= 5:
        keys.add("^" + word[:5])
    return keys


@lru_cache(maxsize=QUESTION_WORDS_KEPT)
def question_keys(term: str) -> tuple[str, ...]:
    """The keys a question word meets a document's words by: as written, sharing its first five
    letters, or as another form of the same noun or verb.

    Kept in a cache of their own, far smaller than the documents' words: questions of made-up
    words would otherwise fill that one with words no document holds."""
    prefix = ("^" + term[:5],) if len(term) >= 5 else ()
    return (term, *prefix, *("=" + form for form in _lemmas(term)))


def _near_duplicate_key(text: str) -> frozenset[str]:
    """Reduce a sentence to its words, so captions repeated with tiny edits compare equal."""
    return frozenset(words(text))


near_duplicate_key = Memo(_near_duplicate_key, 20_000)


# An option or a format code as a question writes it ("-a", "--amend", "%j"), and as a term or a
# row's first cell names its entry ("-a, --all", "--fixup=<commit>", "-u[<mode>]", "%j").
_ENTRY_KEY = re.compile(r"(?<![\w%\-])(--?[A-Za-z][\w\-]*|%[A-Za-z])")
_KEY_END = re.compile(r"[=\[<(]")


# What a question names in code, the way documentation writes it: dotted names
# (`urllib.parse.quote`), calls (`max()`), decorators (`@override`), snake_case
# (`work_mem`), CamelCase (`DataFrame`, `PgBouncer`) and command-line options (`-m`, `--check`).
CODE_NAME = re.compile(
    r"@?[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\(\))?|@[A-Za-z_]\w*|\b[A-Za-z_]\w*\(\)"
    r"|\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b|\b[A-Z]?[a-z]+[A-Z]\w*\b|(?<!\S)--?[A-Za-z][\w-]*")


# A name a user makes up to stand for their own value ("return some_value", "my_list"): it
# names nothing the documents define.
_PLACEHOLDER = re.compile(r"(?:my|some|your|our|their|the)_\w+|foo|bar|baz|spam|eggs", re.I)


def code_names(question: str) -> list[str]:
    """The code names a question writes, as written: what it asks about when it names one
    (not a stand-in of the user's own, "some_value")."""
    return [m.group(0) for m in CODE_NAME.finditer(question)
            if not _PLACEHOLDER.fullmatch(m.group(0).removesuffix("()"))]


def code_name(name: str) -> str:
    """A code name as terms and questions are compared ("Str.join()" -> "str.join"); empty
    for an option, which has keys of its own (`entry_keys`)."""
    name = name.lower().strip("@*&").removesuffix("()")
    return "" if name.startswith("-") else name


def code_names_meet(asked: str, defined: str) -> bool:
    """Whether a code name a question writes is the one a term defines: the same, or the last
    part of a dotted name where the other side is not dotted ("Counter.most_common" and
    "most_common", "join" and "str.join"; not "Path.walk" and "os.walk")."""
    if not asked or not defined:
        return False
    if asked == defined:
        return True
    dotted = "." in asked, "." in defined
    return not all(dotted) and asked.rsplit(".", 1)[-1] == defined.rsplit(".", 1)[-1]


def named_keys(question: str) -> frozenset[str]:
    """The options and codes a question names, which words alone lose ("-a" is "a")."""
    return frozenset(_ENTRY_KEY.findall(question))


@lru_cache(maxsize=8192)  # an entry's sentences share its term: read once
def entry_keys(label: str) -> frozenset[str]:
    """The options or codes an entry's term names, so a question naming one finds the entry:
    "-a, --all" -> {-a, --all}; "--[no-]verify" -> {--verify, --no-verify}."""
    keys = set()
    for token in re.split(r"[\s,|]+", label.strip()):
        if token.startswith("--[no-]"):
            keys.add("--no-" + _KEY_END.split(token[7:], 1)[0])
            token = "--" + token[7:]
        key = _KEY_END.split(token, 1)[0]
        if _ENTRY_KEY.fullmatch(key):
            keys.add(key)
    return frozenset(keys)

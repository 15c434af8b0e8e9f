"""What a question asks about when it asks what a thing does or is: the thing, and the page
named after it.

"What does git add -p do?", "What does the -j option of pg_restore do?", "What is psql?" ask
for a definition, which a manual writes first: an entry's first sentence, a page's first
sentence ("psql is a terminal-based front-end to PostgreSQL."). Retrieval looks for the page the
question names; ranking puts those first sentences forward (`qa.answering.openers`).
"""

from __future__ import annotations

import re

from qa.text.words import code_names, named_keys

# "What does X do / mean / show / stand for?", "What is X for?", "What is X?" (X one word, or
# two after an article: "What is a savepoint?", "What is a materialized view?"),
# where X is only the thing named ("git add -p", "the -j option of pg_restore"): a question
# that says more ("What does setting statement_timeout to zero do?") asks about one use of it,
# which a later sentence of the entry answers, and so does "What does X return?" ("The return
# value is ...", after "Join one or more path segments intelligently.").
_WHAT_IT_DOES = re.compile(
    r"^\s*what\s+(?:does|do|is|are)\s+(?P<thing>[^?]{1,80}?)\s+(?:do|mean|show|stand for|"
    r"(?:used |good )?for)\s*\?*\s*$|"
    r"^\s*what\s+(?:is|are)\s+(?P<name>[^\s?]+)\s*\?*\s*$|"
    r"^\s*what\s+(?:is|are)\s+(?P<defined>(?:an?|the)\s+[^\s?]+(?:\s+[^\s?]+)?)\s*\?*\s*$",
    re.I)
_MORE_THAN_A_NAME = re.compile(
    r"\b(?:to|when|if|with|without|after|before|while|into|from|unless|once|set|setting|"
    r"given|passed|called)\b", re.I)
MOST_WORDS = 6  # "the -n option of git commit"
_ARTICLE = r"^\s*(?:the|an?)\s+"
# What a question adds to a page's name ("the CLUSTER command", "the shutil module").
_GENERIC = re.compile(rf"{_ARTICLE}|\s+(?:sql\s+)?(?:command|statement|clause|function|"
                      r"module|package|library|utility|tool|program|application|extension)\s*$",
                      re.I)
_MAN_SECTION = re.compile(r"\(\d\w*\)\s*$")  # "git-status(1)"


def thing_asked(question: str) -> str | None:
    """The thing a question asks what it does or means ("the -j option of pg_restore"), or
    None when it asks something else."""
    m = _WHAT_IT_DOES.match(question)
    if not m:
        return None
    thing = m.group("thing") or m.group("name") or m.group("defined")
    if len(thing.split()) > MOST_WORDS or _MORE_THAN_A_NAME.search(thing):
        return None
    # "the -j option of pg_restore" asks about the option, whose entry the question names;
    # "the key argument of max()" about a part of max()'s entry, which its first sentence
    # does not describe.
    part, of, _ = thing.partition(" of ")
    return thing if not of or named_keys(part) or code_names(part) else None


def asks_what_it_does(question: str) -> bool:
    """Say whether a question asks only what a thing does or means, which its entry's first
    sentence says."""
    return thing_asked(question) is not None


def terms_asked(question: str) -> set[str]:
    """The term a "What is X?" question asks to define, in lower case as `term_names` gives an
    entry's: "What are savepoints?" -> {"savepoints", "savepoint"}; empty for other questions."""
    thing = thing_asked(question)
    if not thing:
        return set()
    name = re.sub(_ARTICLE, "", thing, flags=re.I).lower().strip()
    return {name, *(name[:-len(end)] for end in ("s", "es") if name.endswith(end))}


def page_name(title: str) -> str:
    """The name a page is about, as a question writes it: "shutil — High-level file
    operations" -> "shutil", "git-status(1)" -> "git status", "CLUSTER" -> "cluster"."""
    name = _MAN_SECTION.sub("", title.split(" — ", 1)[0].split(" - ", 1)[0]).strip()
    return " ".join(name.lower().replace("-", " ").split())


def named_page(question: str) -> str | None:
    """The page name a question asks what it does ("What does the CLUSTER command do?" ->
    "cluster"), as `page_name` writes a page's; None when it asks something else."""
    thing = thing_asked(question)
    name = page_name(_GENERIC.sub("", thing)) if thing else ""
    return name or None

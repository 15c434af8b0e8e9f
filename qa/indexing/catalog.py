"""The catalog: what answering needs to know about sentences, passages, titles and words, in
memory.

A question touches a few hundred candidate sentences, their passages, titles and words.
Reading those from SQLite took a dozen queries per question; the catalog answers them from
dictionaries instead. Like the vector indexes it is derived from the store: loaded with them,
updated with every write, and reloaded whenever another process writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from qa.reading.layout import sentence_keys
from qa.reading.metadata import Metadata
from qa.storage.protocols import DocumentStore
from qa.storage.records import PassageRow, SentenceRow
from qa.text import memo
from qa.text.asked import page_name
from qa.text.words import vocabulary

SENTENCE_WORDS_KEPT = 200_000  # sentences whose word positions are remembered
# A note a page may open with that says when, not what ("New in version 3.4.").
_VERSION_NOTE = re.compile(r"(?:new|changed|added|deprecated|removed)\s+(?:in|since)\s+"
                           r"(?:version|release)\b", re.I)


class Catalog:
    """Quotable sentences, passages and document titles, looked up without touching the disk."""

    def __init__(self) -> None:
        """Start empty; `load` or `add_documents` fill it."""
        self._sentences: dict[int, SentenceRow] = {}
        self._passages: dict[tuple[str, int], PassageRow] = {}
        self._passage_keys: dict[int, tuple[str, int]] = {}
        self._doc_passages: dict[str, list[int]] = {}
        self._quotable: dict[str, dict[int, int]] = {}  # doc -> sentence ord -> sentence id
        self._first: dict[str, int] = {}  # doc -> `_first_said`'s sentence id (-1: none)
        self._pages: dict[str, list[str]] | None = None  # page name -> docs, once asked
        self._titles: dict[str, str] = {}
        self._metadata: dict[str, tuple[str, Metadata]] = {}  # doc -> (source, metadata)
        self._word_position: dict[str, int] = {}  # word -> row of `word_vectors`
        self.word_vectors = np.zeros((0, 0), dtype=np.float32)
        self._last_word = 0  # the store's row id of the last word read
        self._sentence_words: dict[str, np.ndarray] = {}  # text -> its words' positions
        self._entries: dict[str, set[int]] = {}  # option or code -> sentences of its entries

    def __len__(self) -> int:
        """Count the quotable sentences held."""
        return len(self._sentences)

    def load(self, store: DocumentStore) -> None:
        """Read the whole store, on start-up or after another process wrote to it."""
        before = set(self.texts())
        self.__init__()
        self._take(store, None)
        memo.forget(before.difference(self.texts()))

    def add_documents(self, store: DocumentStore, doc_ids: Sequence[str]) -> None:
        """Read just-written documents, so a write costs what the documents cost."""
        self._take(store, doc_ids)

    def _take(self, store: DocumentStore, doc_ids: Sequence[str] | None) -> None:
        """Copy sentences, passages and titles of some documents (or all) from the store."""
        for row in store.quotable_sentences(doc_ids):
            self._sentences[row.id] = row
            self._quotable.setdefault(row.doc_id, {})[row.ord] = row.id
            self._first.pop(row.doc_id, None)
            for key in sentence_keys(row.text, row.context):
                self._entries.setdefault(key, set()).add(row.id)
        self._pages = None  # titles change below: page names are gathered again when asked
        for passage in store.passages(doc_ids):
            key = (passage.doc_id, passage.ord)
            self._passages[key] = passage
            self._passage_keys[passage.id] = key
            self._doc_passages.setdefault(passage.doc_id, []).append(passage.id)
        self._titles.update(store.titles(doc_ids))
        self._metadata.update(store.metadata(doc_ids))
        self._take_words(store)

    def _take_words(self, store: DocumentStore) -> None:
        """Read the word vectors stored since the last read (words are never removed)."""
        self._last_word, words, vectors = store.load_words(self._last_word)
        if not words:
            return
        start = len(self._word_position)
        self._word_position.update((w, start + i) for i, w in enumerate(words))
        self.word_vectors = vectors if not start else np.vstack([self.word_vectors, vectors])

    def ids_of(self, doc_id: str) -> tuple[list[int], list[int]]:
        """The quotable sentence and passage ids held for a document, to remove its vectors."""
        return (list(self._quotable.get(doc_id, {}).values()),
                list(self._doc_passages.get(doc_id, ())))

    def remove_document(self, doc_id: str) -> None:
        """Forget a deleted (or about to be rewritten) document, and what was worked out
        about its sentences: memory follows the corpus, not every text ever indexed."""
        self._first.pop(doc_id, None)
        self._pages = None
        rows = [self._sentences.pop(sid)
                for sid in self._quotable.pop(doc_id, {}).values() if sid in self._sentences]
        for row in rows:
            for key in sentence_keys(row.text, row.context):
                entry = self._entries.get(key, set())
                entry.discard(row.id)
                if not entry:
                    self._entries.pop(key, None)
        texts = [row.text for row in rows]
        for pid in self._doc_passages.pop(doc_id, ()):
            del self._passages[self._passage_keys.pop(pid)]
        texts.append(self._titles.pop(doc_id, ""))
        self._metadata.pop(doc_id, None)
        for text in texts:
            self._sentence_words.pop(text, None)
        memo.forget(texts)

    # --- lookups --------------------------------------------------------------------------
    def word_position(self, word: str) -> int | None:
        """Where a word's vector is in `word_vectors`, if it has one."""
        return self._word_position.get(word)

    def sentence_words(self, text: str) -> np.ndarray:
        """Where a sentence's words are in `word_vectors`, worked out once per sentence (a
        sentence's words are stored with it, and positions never move until a reload)."""
        # Both dicts taken together: a reload replaces them, never mixes old and new.
        cache, get = self._sentence_words, self._word_position.get
        found = cache.get(text)
        if found is None:
            if len(cache) >= SENTENCE_WORDS_KEPT:
                cache.clear()
            found = cache[text] = np.array(
                [at for at in map(get, vocabulary(text)) if at is not None], dtype=np.int64)
        return found

    def sentences(self, ids: Iterable[int]) -> dict[int, SentenceRow]:
        """Fetch quotable sentences by id (unknown ids are left out)."""
        rows = self._sentences
        return {i: rows[i] for i in ids if i in rows}

    def entry_sentences(self, keys: Iterable[str]) -> set[int]:
        """The sentences of the entries (and table rows) that name these options or codes."""
        return set().union(*(self._entries.get(k, ()) for k in keys))

    def sentences_of_passages(self, passage_ids: Iterable[int]) -> list[int]:
        """List the quotable sentences inside the given passages."""
        out: list[int] = []
        for pid in passage_ids:
            key = self._passage_keys.get(pid)
            if key is None:
                continue
            passage, quotable = self._passages[key], self._quotable.get(key[0], {})
            out.extend(quotable[o] for o in range(passage.first_sentence, passage.last_sentence + 1)
                       if o in quotable)
        return out

    def texts(self, doc_ids: Iterable[str] | None = None) -> list[str]:
        """Distinct sentence texts and titles of some documents (or all), for analysing early."""
        docs = list(self._quotable) if doc_ids is None else doc_ids
        out: dict[str, None] = {}
        for doc_id in docs:
            for sid in self._quotable.get(doc_id, {}).values():
                out[self._sentences[sid].text] = None
            out[self._titles.get(doc_id, "")] = None
        return list(out)

    def page_lead(self, name: str) -> int | None:
        """The first quotable sentence of the page named `name` (`page_name` of its title):
        what a question asking what that thing does wants, whatever else the searches find.
        None when no page or several share the name (a split article's parts, say)."""
        pages_named = self._pages
        if pages_named is None:  # built aside, then swapped in: readers never see it half done
            pages_named = {}
            for doc_id, title in list(self._titles.items()):
                pages_named.setdefault(page_name(title), []).append(doc_id)
            self._pages = pages_named
        pages = pages_named.get(name, [])
        return self._first_said(pages[0]) if len(pages) == 1 else None

    def _first_said(self, doc_id: str) -> int | None:
        """The id of a document's first quotable sentence that is no version note ("New in
        version 3.4."), worked out once: a reference page or a module's page opens by saying
        what it is about ("psql is a terminal-based front-end to PostgreSQL.")."""
        if doc_id not in self._first:
            quotable = self._quotable.get(doc_id, {})
            said = (quotable[o] for o in sorted(quotable)
                    if not _VERSION_NOTE.match(self._sentences[quotable[o]].text))
            self._first[doc_id] = next(said, -1)
        first = self._first[doc_id]
        return first if first >= 0 else None

    def opens_entry(self, row: SentenceRow) -> bool:
        """Whether a sentence is the first of its stretch of text: the sentence before it is
        no quotable one under the same headings (a heading, a term, another section, or
        none). A definition's first sentence usually says what the term is; what follows,
        how it behaves."""
        return self._neighbour(row, -1) is None

    def next_said(self, row: SentenceRow) -> str:
        """The quotable sentence right after one under the same headings ("" when none): a
        sentence that draws a consequence ("As a result, ...") says its predecessor is a cause."""
        after = self._neighbour(row, 1)
        return after.text if after is not None else ""

    def _neighbour(self, row: SentenceRow, step: int) -> SentenceRow | None:
        """The quotable sentence `step` places from one (-1 before, 1 after), if it stands
        under the same headings or term; None otherwise."""
        near = self._quotable.get(row.doc_id, {}).get(row.ord + step)
        if near is None or self._sentences[near].context != row.context:
            return None
        return self._sentences[near]

    def passage(self, doc_id: str, ord_: int) -> PassageRow | None:
        """The passage a sentence calls home, by its document and position."""
        return self._passages.get((doc_id, ord_))

    def metadata(self) -> dict[str, tuple[str, Metadata]]:
        """Every document's source and metadata, which filters select documents by."""
        return self._metadata

    def rows_of(self, doc_ids: Iterable[str]) -> tuple[list[int], list[int]]:
        """The quotable sentence and passage ids of some documents: what a filter allows."""
        sentences: list[int] = []
        passages: list[int] = []
        for doc_id in doc_ids:
            sentences.extend(self._quotable.get(doc_id, {}).values())
            passages.extend(self._doc_passages.get(doc_id, ()))
        return sentences, passages

    def titles(self, doc_ids: Iterable[str]) -> dict[str, str]:
        """Titles of the given documents."""
        return {d: self._titles[d] for d in doc_ids if d in self._titles}

"""The HTML reader: a page's readable text and its <title>."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from qa.reading import documents
from qa.reading.documents import DocumentError, decode_text

_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template"})
_HEAD_TAGS = frozenset({"title", "meta", "link", "base", "style", "script", "noscript",
                        "template"})


class _HtmlText(HTMLParser):
    """Collect an HTML page's text as it streams by: no tree is built, so memory follows the
    text, not the markup (a tree of a 10 MB tag-only page took 1.4 GB), and nesting depth
    costs nothing."""

    def __init__(self, name: str) -> None:
        super().__init__(convert_charrefs=True)
        self.name = name
        self.parts: list[str] = []
        self.title: list[str] = []
        self.chars = 0
        self.skipping = 0  # inside script, style...
        self.in_head = False
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list) -> None:  # noqa: ARG002 - HTMLParser's signature
        if tag == "head":
            self.in_head = True
        elif tag == "body" or (self.in_head and tag not in _HEAD_TAGS):
            self.in_head = False  # a page may never close its head
        if tag in _SKIPPED_TAGS:
            self.skipping += 1
        elif tag == "title":
            self.in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS and self.skipping:
            self.skipping -= 1
        elif tag == "title":
            self.in_title = False
        elif tag == "head":
            self.in_head = False

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        if self.skipping or self.in_head or self.in_title:
            return
        self.parts.append(data)
        self.chars += len(data)
        if self.chars > documents.MAX_DOCUMENT_CHARS:
            raise DocumentError(f"{self.name}: the page's text is longer than "
                                f"{documents.MAX_DOCUMENT_CHARS:,} characters")


def html_to_text(data: bytes, name: str) -> tuple[str, str]:
    """Extract readable text and the <title> from HTML, dropping scripts and styles."""
    parser = _HtmlText(name)
    parser.feed(decode_text(data, name))
    parser.close()
    title = " ".join(" ".join(parser.title).split())
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip()
             for line in "\n".join(parser.parts).splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text, title

"""The HTML reader: a page's text laid out as a browser would, its structure, and its title.

Inline elements (`a code em span`...) and line breaks inside a paragraph never break a
sentence; white space collapses as HTML does; each block (`p li dt dd pre h1-h6 blockquote`,
a table row, a `div` holding text) becomes one line of the stored text. Navigation, page
headers and footers, sidebars, breadcrumbs, "Prev / Up / Next" bars, tables of contents and
permalink marks are left out. Headings, definition terms and table column labels become the
context of the blocks under them (`qa.reading.layout`).

The page streams through `html.parser` with a stack of open elements and no tree, so memory
follows the text, not the markup (a tree of a 10 MB tag-only page took 1.4 GB), and nesting
depth costs little. Missing end tags are implied as browsers imply them (a new `p` closes the
open one, a new `li` the open item...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from qa.reading import documents
from qa.reading.documents import DocumentError, Extracted, decode_text
from qa.reading.layout import (
    CODE,
    HEADING,
    ROW,
    ROW_SEPARATOR,
    TERM,
    TEXT,
    Layout,
    LayoutBuilder,
    clean_inline,
    clean_label,
)

_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "math", "iframe",
                           "object", "canvas", "button", "select", "textarea", "form"})
_HEAD_TAGS = frozenset({"title", "meta", "link", "base", "style", "script", "noscript",
                        "template"})
# Page furniture: left out with everything inside it.
_FURNITURE_TAGS = frozenset({"nav", "footer"})  # `aside` holds footnotes and notes too
_FURNITURE_ROLES = frozenset({"navigation", "contentinfo", "search", "complementary", "menu",
                              "menubar", "toolbar", "banner"})
_FURNITURE_CLASSES = frozenset({
    "navheader", "navfooter", "navbar", "navigation", "nav", "breadcrumb", "breadcrumbs",
    "sidebar", "sphinxsidebar", "sphinxsidebarwrapper", "related", "footer", "toc",
    "headerlink", "skip-link", "skiplink", "mobile-nav", "menu", "site-header", "site-footer",
    "page-footer", "copyright", "cookie-banner", "share", "social", "pagination", "pager",
    "edit-this-page", "version_switcher_placeholder", "language_switcher_placeholder",
    "widget-area", "widget"})
_FURNITURE_IDS = frozenset({"toc", "sidebar", "navigation", "footer", "breadcrumbs",
                            "sidebarbutton"})
# Blocks: each ends the line before it and starts its own.
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
    "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "h1", "h2",
    "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html", "legend", "li", "main", "menu",
    "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "ul"})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
ALIAS_CHARS = 30  # terms this short, written one after another, are names of one entry
ALIASES = 3  # of them, at most, name its definition
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "param", "source", "track", "wbr"})
# Start tags that close an open element first, as browsers imply its end tag.
_CLOSES_P = _BLOCK_TAGS - {"body", "html", "td", "th", "tr", "tbody", "thead", "tfoot", "dd",
                           "dt", "li", "caption", "figcaption", "summary", "legend"}
_IMPLIED = {"li": ({"li"}, {"ul", "ol", "menu", "dir"}),
            "dt": ({"dt", "dd"}, {"dl"}), "dd": ({"dt", "dd"}, {"dl"}),
            "tr": ({"tr", "td", "th"}, {"table", "thead", "tbody", "tfoot"}),
            "td": ({"td", "th"}, {"tr", "table"}), "th": ({"td", "th"}, {"tr", "table"}),
            "thead": ({"tbody", "tfoot", "thead", "tr", "td", "th"}, {"table"}),
            "tbody": ({"tbody", "tfoot", "thead", "tr", "td", "th"}, {"table"}),
            "tfoot": ({"tbody", "tfoot", "thead", "tr", "td", "th"}, {"table"}),
            "option": ({"option"}, {"select", "datalist"})}
_CODE_TAGS = frozenset({"code", "tt", "kbd", "samp", "var"})
_ADMONITIONS = frozenset({"note", "tip", "warning", "caution", "important", "admonition",
                          "seealso", "hint", "attention", "danger", "error", "sidebar"})
# A paragraph this much inside code elements is a sample or a signature, not prose.
CODE_SHARE = 0.6
ROW_MAX_CHARS = 400  # a longer table row is laid out cell by cell, paragraph by paragraph
_LETTERS = re.compile(r"[^\W\d_]")
_WEB_ADDRESS = re.compile(r"^https?://[^\s]{1,2000}$", re.IGNORECASE)


def _entry_name(terms: list[str]) -> str:
    """What a definition stands under: its terms when they are short aliases of one another
    ("-a, --all"), else the first (an overloaded signature repeats the name at length)."""
    aliases = terms[:ALIASES]
    if len(aliases) > 1 and all(len(t) <= ALIAS_CHARS for t in aliases):
        return ", ".join(aliases)
    return terms[0]


@dataclass(slots=True)
class _Open:
    """An open element: its tag and what it changes while it is open."""

    tag: str
    skip: bool = False  # left out with its content
    heading_scope: bool = False  # an admonition: its headings name nothing outside it


@dataclass
class _List:
    """An open definition list: the terms of the entry being read, and whether its
    definition has begun (a new term then starts a new entry)."""

    terms: list[str] = field(default_factory=list)
    in_definition: bool = False


@dataclass
class _Table:
    """An open table: its caption, column labels, and the row being read (cells of paragraphs)."""

    caption: str = ""
    labels: list[str] = field(default_factory=list)
    cells: list[list[tuple[str, bool]]] = field(default_factory=list)  # (paragraph, is code)
    header_row: bool = True
    in_head: bool = False
    complex_row: bool = False  # holds lists, code or tables: laid out paragraph by paragraph


class _PageReader(HTMLParser):
    """Stream a page into a `LayoutBuilder`, one block at a time."""

    def __init__(self, name: str, keep_furniture: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.name = name
        self.keep_furniture = keep_furniture
        self.out = LayoutBuilder(limit=documents.MAX_DOCUMENT_CHARS)
        self.stack: list[_Open] = []
        self.skipping = 0  # open elements being left out
        self.title: list[str] = []
        self.in_title = False
        self.in_head = False
        self.buffer: list[str] = []  # the inline text of the block being read
        self.code_chars = 0  # of it, inside code elements
        self.code_depth = 0
        self.pre_depth = 0
        self.headings: list[tuple[int, str]] = []
        self.heading_level = 0  # of the heading being read
        self.admonition_depth = 0
        self.lists: list[_List] = []
        self.tables: list[_Table] = []
        self.cell_depth = 0
        self.first_heading = ""
        self.url = ""  # the page's web address, when it gives one
        self.anchor = ""  # the last element id met, for links to the place a block stands
        self.block_anchor = ""  # the anchor when the block being read began

    # --- structure ------------------------------------------------------------------------
    def _is_furniture(self, tag: str, attrs: dict[str, str | None]) -> bool:
        """Tell page furniture (navigation, sidebars, footers, permalink marks) by its markup."""
        if self.keep_furniture:
            return False
        if tag in _FURNITURE_TAGS:
            return True
        if (attrs.get("role") or "").lower() in _FURNITURE_ROLES:
            return True
        classes = set((attrs.get("class") or "").lower().split())
        if classes & _FURNITURE_CLASSES:
            return True
        return (attrs.get("id") or "").lower() in _FURNITURE_IDS

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "head":
            self.in_head = True
            return
        if tag == "body" or (self.in_head and tag not in _HEAD_TAGS):
            self.in_head = False  # a page may never close its head
        if tag == "title" and not self.skipping:
            self.in_title = True
            return
        if tag == "br" and not self.skipping:
            self._text("\n" if self.pre_depth else " ")
            return
        if tag in ("link", "meta") and not self.skipping:
            self._note_url(dict(attrs))
        if tag in _VOID:
            return
        self._imply_end(tag)
        named = dict(attrs)
        skip = tag in _SKIPPED_TAGS or self._is_furniture(tag, named)
        classes = set((named.get("class") or "").lower().split())
        entry = _Open(tag, skip=skip, heading_scope=bool(classes & _ADMONITIONS))
        self.stack.append(entry)
        if named.get("id") and not skip and not self.skipping and "indexterm" not in classes:
            self.anchor = named["id"] or ""
        if skip:
            self.skipping += 1
            return
        if self.skipping:
            return
        if tag in _BLOCK_TAGS:
            self._flush()
        if entry.heading_scope:
            self.admonition_depth += 1
        if tag in ("ul", "ol", "pre", "table", "dl") and self.cell_depth and self.tables:
            self.tables[-1].complex_row = True  # a cell holding structure: no one-line row
        if tag in _HEADINGS:
            self.heading_level = _HEADINGS[tag]
        elif tag == "pre":
            self.pre_depth += 1
        elif tag in _CODE_TAGS:
            self.code_depth += 1
        elif tag == "dl":
            self.lists.append(_List())
        elif tag == "dt" and self.lists:
            current = self.lists[-1]
            if current.in_definition:
                current.terms, current.in_definition = [], False
        elif tag == "dd" and self.lists:
            self.lists[-1].in_definition = True
        elif tag == "table":
            self.tables.append(_Table())
        elif tag == "thead" and self.tables:
            self.tables[-1].in_head = True
        elif tag == "tr" and self.tables:
            self.tables[-1].cells, self.tables[-1].header_row = [], True
            self.tables[-1].complex_row = False
        elif tag in ("td", "th") and self.tables:
            table = self.tables[-1]
            table.cells.append([])
            table.header_row &= tag == "th" or table.in_head
            self.cell_depth += 1

    def _imply_end(self, tag: str) -> None:
        """Close what a browser would close before this start tag (an open `p`, `li`, `td`...)."""
        if tag in _CLOSES_P:
            self._close_open("p", stop=_BLOCK_TAGS - {"p", "span", "a"})
        implied = _IMPLIED.get(tag)
        if implied:
            closes, within = implied
            for i in range(len(self.stack) - 1, -1, -1):
                open_tag = self.stack[i].tag
                if open_tag in within:
                    break
                if open_tag in closes:
                    self._pop_to(i)
                    break

    def _close_open(self, tag: str, stop: frozenset[str]) -> None:
        """End an open `tag` unless a block other than it is nearer."""
        for i in range(len(self.stack) - 1, max(len(self.stack) - 50, -1), -1):
            open_tag = self.stack[i].tag
            if open_tag == tag:
                self._pop_to(i)
                return
            if open_tag in stop:
                return

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.in_head = False
            return
        if tag == "title":
            self.in_title = False
            return
        if tag in _VOID:
            return
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].tag == tag:
                self._pop_to(i)
                return
            if i < len(self.stack) - 200:
                return  # an end tag with no start tag near enough: ignored, as browsers do

    def _pop_to(self, index: int) -> None:
        """Close the open elements from the innermost down to `index`."""
        while len(self.stack) > index:
            entry = self.stack[-1]
            if entry.tag in _BLOCK_TAGS and not self.skipping:
                self._flush()  # while the element is still open: a term knows it is one
            self.stack.pop()
            self._close(entry)

    def _close(self, entry: _Open) -> None:
        """What ending one element means for the structure."""
        tag = entry.tag
        if entry.skip:
            self.skipping -= 1
            return
        if self.skipping:
            return
        if entry.heading_scope:
            self.admonition_depth -= 1
        if tag in _HEADINGS:
            self.heading_level = 0
        elif tag == "pre":
            self.pre_depth -= 1
        elif tag in _CODE_TAGS:
            self.code_depth = max(self.code_depth - 1, 0)
        elif tag == "dl" and self.lists:
            self.lists.pop()
        elif tag == "table" and self.tables:
            self.tables.pop()
        elif tag == "thead" and self.tables:
            self.tables[-1].in_head = False
        elif tag in ("td", "th") and self.tables:
            self.cell_depth = max(self.cell_depth - 1, 0)
        elif tag == "tr" and self.tables:
            self._end_row(self.tables[-1])

    def _note_url(self, attrs: dict[str, str | None]) -> None:
        """Keep the page's own web address: `<link rel="canonical">`, else `og:url`."""
        rel = (attrs.get("rel") or "").lower().split()
        if "canonical" in rel:
            href = attrs.get("href") or ""
        elif (attrs.get("property") or attrs.get("name") or "").lower() == "og:url":
            href = "" if self.url else attrs.get("content") or ""
        else:
            return
        href = href.strip()
        if _WEB_ADDRESS.match(href):
            self.url = href

    # --- text -----------------------------------------------------------------------------
    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
            return
        if self.skipping or self.in_head:
            return
        self._text(data)

    def _text(self, data: str) -> None:
        """Add inline text to the block being read."""
        if not self.buffer:
            self.block_anchor = self.anchor
        self.buffer.append(data)
        if self.code_depth:
            self.code_chars += len(_LETTERS.findall(data))

    def _context(self, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The headings and definition terms the current block stands under."""
        parts = [text for _, text in self.headings]
        parts += [_entry_name(dl.terms) for dl in self.lists if dl.in_definition and dl.terms]
        return (*parts, *extra)

    def _flush(self) -> None:
        """End the block being read: write it as a heading, term, cell, code or prose."""
        if not self.buffer:
            return
        raw = "".join(self.buffer)
        code_chars, self.buffer, self.code_chars = self.code_chars, [], 0
        if self.pre_depth:
            text = raw.strip("\n")
            if self.cell_depth and self.tables and self.tables[-1].cells:
                self.tables[-1].complex_row = True
                self.tables[-1].cells[-1].append((text, True))
                return
            self.out.add(text, CODE, self._context(), anchor=self.block_anchor)
            return
        text = clean_inline(raw)
        if not text:
            return
        letters = len(_LETTERS.findall(text))
        is_code = bool(letters) and code_chars >= CODE_SHARE * letters
        if self.cell_depth and self.tables and self.tables[-1].cells:
            self.tables[-1].cells[-1].append((text, is_code))
            return
        if self.heading_level:
            self._heading(self.heading_level, text)
            return
        if self.lists and self._inside("dt"):
            label = clean_label(text)
            self.lists[-1].terms.append(label)
            self.out.add(text, TERM, self._context(), anchor=self.block_anchor)
            return
        if self.tables and self._inside("caption"):
            self.tables[-1].caption = clean_label(text)
            self.out.add(text, TERM, self._context(), anchor=self.block_anchor)
            return
        self.out.add(text, CODE if is_code else TEXT, self._context(), anchor=self.block_anchor)

    def _inside(self, tag: str) -> bool:
        """Whether an element is open (looking only a little way up: blocks nest shallowly)."""
        return any(e.tag == tag for e in self.stack[-12:])

    def _heading(self, level: int, text: str) -> None:
        """A heading: written as a line of its own, and (outside notes) the context below it."""
        if self.admonition_depth:
            self.out.add(text, TERM, self._context(), anchor=self.block_anchor)
            return
        label = clean_label(text.rstrip("¶#").strip())
        self.headings = [(lvl, t) for lvl, t in self.headings if lvl < level]
        self.out.add(text, HEADING, self._context(), anchor=self.block_anchor)
        if label:
            self.headings.append((level, label))
            self.first_heading = self.first_heading or label

    def _end_row(self, table: _Table) -> None:
        """A table row: its cells on one line under its column labels, or, when long or
        structured, each paragraph of each cell on its own."""
        cells = table.cells
        table.cells = []
        if not any(cells):
            return
        joined = [" ".join(p for p, _ in c if "\n" not in p) for c in cells]
        context = (*self._context(), *([table.caption] if table.caption else []))
        if table.header_row and not table.labels:
            table.labels = [clean_label(c) for c in joined]
            self.out.add(ROW_SEPARATOR.join(joined), TERM, context, anchor=self.block_anchor)
            return
        if table.complex_row or sum(map(len, joined)) > ROW_MAX_CHARS or len(cells) == 1:
            for cell in cells:
                self._cell_blocks(cell, context)
            return
        labels = ROW_SEPARATOR.join(label for label in table.labels if label)
        self.out.add(ROW_SEPARATOR.join(joined), ROW, (*context, labels) if labels else context,
                     anchor=self.block_anchor)

    def _cell_blocks(self, paragraphs: list[tuple[str, bool]], context: tuple[str, ...]) -> None:
        """Lay a cell out as blocks: a short first line without a full stop names the rest
        (a function's signature above its description)."""
        if not paragraphs:
            return
        first = paragraphs[0][0]
        if len(paragraphs) > 1 and "\n" not in first and len(first) <= 200 \
                and not first.rstrip().endswith((".", "!", "?")):
            self.out.add(first, TERM, context, anchor=self.block_anchor)
            context = (*context, clean_label(first))
            paragraphs = paragraphs[1:]
        for text, is_code in paragraphs:
            self.out.add(text, CODE if is_code or "\n" in text else TEXT, context, anchor=self.block_anchor)

    def page_title(self) -> str:
        """The page's title: its `<title>`, or the first heading when the title only adds the
        site's name to it ("Built-in Functions — Python 3.11 documentation")."""
        title = clean_inline(" ".join(self.title))
        heading = self.first_heading
        if heading and (not title or (title.lower().startswith(heading.lower())
                                      and len(title) > len(heading))):
            return heading
        return title


def html_layout(data: bytes, name: str) -> Extracted:
    """Read a page: its laid-out text, its title and the layout (see the module's notes)."""
    text = decode_text(data, name)
    for keep_furniture in (False, True):
        reader = _PageReader(name, keep_furniture)
        try:
            reader.feed(text)
            reader.close()
            reader._flush()
        except OverflowError:
            raise DocumentError(f"{name}: the page's text is longer than "
                                f"{documents.MAX_DOCUMENT_CHARS:,} characters") from None
        body, layout = reader.out.build()
        if body.strip():
            break  # a page that is nothing but navigation is read with it, not refused
    title = reader.page_title()
    return Extracted(body, title, _without_title(layout, title, reader.first_heading or ""),
                     reader.url)


def _without_title(layout: Layout, title: str, heading: str = "") -> Layout:
    """Drop the page's own title from its blocks' contexts: every sentence has it already;
    so is a first heading that only adds a word to it ("git-commit(1) Manual Page")."""
    if not title:
        return layout
    same = {title.lower()}
    if heading and heading.lower().startswith(title.lower()):
        same.add(heading.lower())
    contexts = tuple(tuple(p for p in c if p.lower() not in same) for c in layout.contexts)
    return Layout(layout.blocks, contexts)


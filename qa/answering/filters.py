"""Filters: which documents a question may be answered from, by collection, tags, source, id or
any key-value a document carries.

The grammar is JSON, small on purpose:

    {"collection": "handbook"}                       equality (for `tags`: has the tag)
    {"tags": {"in": ["hr", "travel"]}}               any of
    {"year": {"gte": 2020, "lt": 2024}}              ranges on numbers, or on ISO dates as text
    {"collection": "handbook", "lang": "en"}         several fields: all must hold
    {"or": [{...}, {...}]}, {"and": [...]}, {"not": {...}}

A field no document carries, or a collection or tag that does not exist, is refused with what
does exist: a typo must not silently answer from nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from qa.reading.metadata import Metadata, MetaValue

BUILTIN_FIELDS = ("collection", "tags", "doc_id", "source")
RANGES = ("gt", "gte", "lt", "lte")
MAX_FILTER_CHARS = 4000
MAX_DEPTH = 8
SHOWN = 20  # existing names listed in a refusal
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")

Predicate = Callable[[str, str, Metadata], bool]  # (doc_id, source, metadata) -> kept?


class FilterError(ValueError):
    """A filter that cannot be applied; the message says what exists instead."""


@dataclass(frozen=True)
class Known:
    """What the indexed documents carry, to check a filter's names against."""

    collections: frozenset[str]
    tags: frozenset[str]
    fields: Mapping[str, frozenset[MetaValue]]
    names: Mapping[str, frozenset[str]]  # "doc_id" and "source" -> the values there are

    @classmethod
    def of(cls, documents: Mapping[str, tuple[str, Metadata]]) -> Known:
        """Gather the ids, sources, collections, tags and fields of these documents."""
        collections, tags, fields = set(), set(), {}
        for _, meta in documents.values():
            collections.add(meta.collection)
            tags.update(meta.tags)
            for key, value in meta.fields.items():
                fields.setdefault(key, set()).add(value)
        return cls(frozenset(collections), frozenset(tags),
                   {k: frozenset(v) for k, v in fields.items()},
                   {"doc_id": frozenset(documents),
                    "source": frozenset(source for source, _ in documents.values())})


def _listed(names: Iterable[object]) -> str:
    """A short, sorted list of what exists, for an error message."""
    shown = sorted(str(n) for n in names)
    more = f" and {len(shown) - SHOWN} more" if len(shown) > SHOWN else ""
    return ", ".join(shown[:SHOWN]) + more if shown else "none"


def _value(meta: Metadata, doc_id: str, source: str, name: str) -> object:
    """A document's value for a field (None when it has none)."""
    if name == "collection":
        return meta.collection
    if name == "doc_id":
        return doc_id
    if name == "source":
        return source
    return meta.fields.get(name)


def _comparable(a: object, b: object) -> bool:
    """Numbers compare with numbers, dates (ISO text) with dates."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return True
    return isinstance(a, str) and isinstance(b, str) and bool(_ISO_DATE.match(a)) \
        and bool(_ISO_DATE.match(b))


def _range(op: str, bound: object) -> Callable[[object], bool]:
    """A test for one range bound."""
    tests = {"gt": lambda v: v > bound, "gte": lambda v: v >= bound,
             "lt": lambda v: v < bound, "lte": lambda v: v <= bound}
    test = tests[op]
    return lambda v: v is not None and _comparable(v, bound) and test(v)


class _Compiler:
    """Turn a parsed filter into a predicate, checking names against what exists."""

    def __init__(self, known: Known) -> None:
        """Check names against `known`."""
        self.known = known

    def check_value(self, name: str, value: object) -> None:
        """Refuse a value that no document could match because it names nothing that exists."""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise FilterError(f"filter on {name!r}: values are strings or numbers")
        if name == "collection" and value not in self.known.collections:
            raise FilterError(f"no collection {value!r}; collections: "
                              f"{_listed(self.known.collections)}")
        if name == "tags" and value not in self.known.tags:
            raise FilterError(f"no document is tagged {value!r}; tags: "
                              f"{_listed(self.known.tags)}")
        values = self.known.fields.get(name)
        if values is not None and value not in values:
            raise FilterError(f"no document has {name} = {value!r}; {name}: {_listed(values)}")
        if name in ("doc_id", "source") and value not in self.known.names[name]:
            raise FilterError(f"no document has {name} {value!r}")

    def field(self, name: str, condition: object) -> Predicate:
        """The test of one field's condition."""
        if name not in BUILTIN_FIELDS and name not in self.known.fields:
            raise FilterError(f"unknown field {name!r}; fields: "
                              f"{_listed([*BUILTIN_FIELDS, *self.known.fields])}")
        if not isinstance(condition, dict):
            self.check_value(name, condition)
            if name == "tags":
                return lambda _doc_id, _source, meta: condition in meta.tags
            return lambda doc_id, source, meta: _value(meta, doc_id, source, name) == condition
        if not condition or set(condition) - {"in", *RANGES}:
            raise FilterError(f"filter on {name!r}: use a value, {{\"in\": [...]}} or "
                              f"{{\"gt\"|\"gte\"|\"lt\"|\"lte\": bound}}")
        tests: list[Callable[[object], bool]] = []
        if "in" in condition:
            values = condition["in"]
            if not isinstance(values, list) or not values:
                raise FilterError(f"filter on {name!r}: \"in\" takes a non-empty list")
            for value in values:
                self.check_value(name, value)
            allowed = set(values)
            if name == "tags":
                return lambda _doc_id, _source, meta: not allowed.isdisjoint(meta.tags)
            tests.append(lambda v: v in allowed)
        for op in RANGES:
            if op in condition:
                bound = condition[op]
                if name in ("collection", "tags", "doc_id", "source") or isinstance(
                        bound, bool) or not (isinstance(bound, (int, float)) or (
                        isinstance(bound, str) and _ISO_DATE.match(bound))):
                    raise FilterError(f"filter on {name!r}: a range bound is a number or an "
                                      f"ISO date (YYYY-MM-DD), on a field that holds them")
                tests.append(_range(op, bound))
        return lambda doc_id, source, meta: all(
            t(_value(meta, doc_id, source, name)) for t in tests)

    def node(self, spec: object, depth: int = 0) -> Predicate:
        """The test of a filter object: its fields all hold, and its and/or/not parts."""
        if depth > MAX_DEPTH:
            raise FilterError(f"a filter nests at most {MAX_DEPTH} levels")
        if not isinstance(spec, dict) or not spec:
            raise FilterError("a filter is a non-empty JSON object, e.g. "
                              "{\"collection\": \"handbook\"}")
        parts: list[Predicate] = []
        for key, value in spec.items():
            if key in ("and", "or"):
                if not isinstance(value, list) or not value:
                    raise FilterError(f"\"{key}\" takes a non-empty list of filters")
                subs = [self.node(v, depth + 1) for v in value]
                parts.append((lambda s: lambda *a: all(p(*a) for p in s))(subs) if key == "and"
                             else (lambda s: lambda *a: any(p(*a) for p in s))(subs))
            elif key == "not":
                sub = self.node(value, depth + 1)
                parts.append(lambda *a, sub=sub: not sub(*a))
            else:
                parts.append(self.field(key, value))
        return lambda *a: all(p(*a) for p in parts)


def parse_filter(text: str | Mapping[str, object] | None) -> dict | None:
    """Read a filter given as JSON text (CLI, OpenAI metadata) or as an object (API)."""
    if text is None or text == "" or text == {}:
        return None
    if isinstance(text, str):
        if len(text) > MAX_FILTER_CHARS:
            raise FilterError(f"a filter is at most {MAX_FILTER_CHARS} characters")
        try:
            text = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FilterError(f"the filter is not JSON: {exc.msg} at character {exc.pos}") \
                from None
    if not isinstance(text, dict):
        raise FilterError("a filter is a JSON object, e.g. {\"collection\": \"handbook\"}")
    return dict(text)


def combine(collection: str | None, spec: dict | None) -> dict | None:
    """One filter from a collection name and a filter (both must hold; `{}` is no filter)."""
    spec = spec or None
    if collection and spec:
        return {"and": [{"collection": collection}, spec]}
    if collection:
        return {"collection": collection}
    return spec


def select(spec: dict | None, documents: Mapping[str, tuple[str, Metadata]],
           within: frozenset[str] | None = None) -> frozenset[str] | None:
    """The ids of the documents a filter keeps (None: no filter, everything), among those of
    the collections `within` (a key's scope: what lies outside it is never matched, nor
    named in an error); raises FilterError for a filter that names what does not exist."""
    if within is not None:
        documents = {d: v for d, v in documents.items() if v[1].collection in within}
        if spec is None:
            return frozenset(documents)
    if spec is None:
        return None
    known = Known.of(documents)
    keep = _Compiler(known).node(spec)
    return frozenset(doc_id for doc_id, (source, meta) in documents.items()
                     if keep(doc_id, source, meta))

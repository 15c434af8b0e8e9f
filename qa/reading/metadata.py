"""What a document carries besides its text: the collection it belongs to, its tags, and free
key-values (strings, numbers, ISO dates), which questions can be limited by (`qa.answering.filters`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

DEFAULT_COLLECTION = "default"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"  # a collection or a field's name
_NAME = re.compile(NAME_PATTERN)
RESERVED_FIELDS = ("collection", "tags", "doc_id", "source", "title")
MAX_TAGS = 50
MAX_FIELDS = 50
MAX_TAG_CHARS = 100
MAX_VALUE_CHARS = 500

MetaValue = str | int | float


class MetadataError(ValueError):
    """Metadata that cannot be stored; the message says what to change."""


@dataclass(frozen=True)
class Metadata:
    """A document's collection, tags and key-values, as stored and matched by filters."""

    collection: str = DEFAULT_COLLECTION
    tags: tuple[str, ...] = ()
    fields: Mapping[str, MetaValue] = field(default_factory=dict)

    def to_json(self) -> tuple[str, str]:
        """The tags and fields as the store keeps them (two JSON texts)."""
        return (json.dumps(list(self.tags), ensure_ascii=False),
                json.dumps(dict(self.fields), ensure_ascii=False, sort_keys=True))

    @classmethod
    def from_stored(cls, collection: str | None, tags: str | None, fields: str | None
                    ) -> Metadata:
        """Read what `to_json` wrote (empty for rows from before metadata existed)."""
        return cls(collection or DEFAULT_COLLECTION, tuple(json.loads(tags or "[]")),
                   json.loads(fields or "{}"))

    def fingerprint(self) -> str:
        """Say what would make a re-added document differ, for its content hash."""
        if self == Metadata():
            return ""
        tags, fields = self.to_json()
        return f"{self.collection}\0{tags}\0{fields}"


def _name(value: object, what: str) -> str:
    """A collection or field name: short, no spaces, safe in a URL and a model name."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise MetadataError(f"{what} {value!r}: use 1-64 letters, digits, '.', '_', ':' or '-', "
                            f"starting with a letter or digit")
    return value


def _text(value: str, what: str, limit: int) -> str:
    """A tag or a string value: printable, within its limit."""
    value = value.strip()
    if not value or len(value) > limit or any(ord(c) < 32 for c in value):
        raise MetadataError(f"{what} {value[:80]!r}: use 1-{limit} printable characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise MetadataError(f"{what} is not valid Unicode") from None
    return value


def make_metadata(collection: str | None = None, tags: Iterable[str] | None = None,
                  fields: Mapping[str, object] | None = None) -> Metadata:
    """Check metadata given by a user (upload, CLI, sync), so what is stored always filters."""
    tag_list = [_text(t, "tag", MAX_TAG_CHARS) if isinstance(t, str) else
                _text(str(t), "tag", MAX_TAG_CHARS) for t in (tags or ())]
    if len(tag_list) > MAX_TAGS:
        raise MetadataError(f"at most {MAX_TAGS} tags")
    clean: dict[str, MetaValue] = {}
    for key, value in (fields or {}).items():
        _name(key, "field")
        if key in RESERVED_FIELDS:
            raise MetadataError(f"field {key!r} is reserved: use the {key} setting itself")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise MetadataError(f"field {key!r}: a value must be a string or a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise MetadataError(f"field {key!r}: a number must be finite")
        clean[key] = _text(value, f"field {key!r}", MAX_VALUE_CHARS) \
            if isinstance(value, str) else value
    if len(clean) > MAX_FIELDS:
        raise MetadataError(f"at most {MAX_FIELDS} fields")
    return Metadata(_name(collection or DEFAULT_COLLECTION, "collection"),
                    tuple(dict.fromkeys(tag_list)), dict(sorted(clean.items())))


def parse_pairs(pairs: Iterable[str]) -> dict[str, MetaValue]:
    """Read `key=value` pairs from a command line: a value that reads as a number is one."""
    fields: dict[str, MetaValue] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise MetadataError(f"{pair!r}: write a field as key=value")
        value: MetaValue = raw
        for kind in (int, float):
            try:
                value = kind(raw)
                break
            except ValueError:
                continue
        fields[key.strip()] = value
    return fields

"""Reading: bytes become documents and documents become sentences and passages.

`documents` holds the `Document` every reader produces and the rules for ids, titles and text;
one reader per format (`html`, `pdf`, `office`), registered by suffix in `formats`; `files`
finds the documents under a folder; `chunking` splits a document's text into quotable sentences
with exact offsets and groups them into passages. May import `qa.config` and `qa.text`.
"""

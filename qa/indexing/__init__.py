"""Indexing: chunks become vectors in the store and in memory.

`indexer` embeds documents and keeps the FAISS indexes and the in-memory `catalog` in step with
the store, handing each question a consistent `Snapshot`; `runtime` picks the model runtime;
`cluster` embeds on a Dask cluster. May import `embeddings` and the packages below `indexing`.
"""

"""Storage: where documents, their chunks, vectors and full-text indexes live.

`protocols` is the seam (`DocumentStore`, `LexicalIndex`) that indexing and answering are written
against, `records` the rows stores hand out, `factory.open_store` picks the backend from the
settings: `sqlite` (the default, one file in the data dir) or `postgres` (shared by replicas,
each reading a SQLite mirror); `local_postgres` starts a private server for tests and
benchmarks. May import `qa.config`, `qa.text` and `qa.reading`.
"""

"""Verbatim's question answering, as the data flows: documents are read (`reading`), stored
(`storage`), indexed (`indexing`) and answered from (`answering`); the application (`app`: the
service, the CLI, folder sync and evaluation) drives them. `config` holds the settings every
stage reads and `text` how every stage cuts text into words.

Each package imports only from the packages before it in that order (config, text, reading,
storage, indexing, answering, app) and from `embeddings`; `tests/test_architecture.py` checks
it, and that no two modules import each other in a circle.
"""

"""The application: `service` wires reading, indexing and answering into one object that the
CLI (`cli`), the HTTP API and folder mirroring (`sync`) share; `evaluation` measures it on
question sets. Nothing in `qa` imports it; `api/` builds on it.
"""

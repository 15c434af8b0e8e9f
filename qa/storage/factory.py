"""The factory: the store the settings name, so no other module needs to know which it is."""

from __future__ import annotations

from qa.config import Settings, backend_of
from qa.storage.protocols import DocumentStore


def open_store(settings: Settings) -> DocumentStore:
    """Open the store the settings name, so no other module needs to know which it is."""
    backend = backend_of(settings.store_url)
    if backend == "postgresql":
        from qa.storage.postgres import PostgresStore

        assert settings.store_url is not None
        return PostgresStore(settings.store_url, settings.data_dir, settings.store_read_url)
    from qa.storage.sqlite import Store

    return Store(settings.data_dir)

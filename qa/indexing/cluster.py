"""Bulk embedding on a Dask cluster (`qa rebuild --dask tcp://scheduler:8786`).

The texts to embed are cut into batches, one task each; every worker process loads the model
once (its first task) with as many threads as the worker has, and the vectors come back in
order. Nothing is written until every batch is back, so a worker that dies mid-job costs a retry
of its batches (Dask reschedules them), never a half-written store. The same code runs on a
`LocalCluster` and on a cluster of many machines, each with Verbatim installed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import numpy as np

from qa.config import Settings

log = logging.getLogger(__name__)

BATCH = 512  # texts per task: large enough that Dask's overhead (~1 ms a task) is noise
_models: dict[str, object] = {}  # one model per worker process, by settings
_models_lock = threading.Lock()


class ClusterError(RuntimeError):
    """The Dask scheduler cannot be reached, or the job failed on it."""


def _embed_batch(texts: list[str], settings_json: str) -> np.ndarray:
    """Embed one batch on a worker, loading the model on the worker's first task."""
    from distributed import get_worker

    from qa.indexing.runtime import make_embedder

    with _models_lock:
        model = _models.get(settings_json)
        if model is None:
            settings = Settings.model_validate_json(settings_json)
            threads = max(1, int(get_worker().state.nthreads))
            model = make_embedder(settings.model_copy(update={"threads": threads}))
            _models[settings_json] = model
    return model.encode(texts)  # type: ignore[attr-defined]


class DaskEncoder:
    """Embeds many texts on a Dask cluster, in order, reporting progress as batches return."""

    def __init__(self, address: str, settings: Settings) -> None:
        """Connect to the scheduler at `address`."""
        from distributed import Client

        try:
            self.client = Client(address, timeout="5s")
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        # The workers need what the model needs, not the server's or the store's settings.
        self._settings = settings.model_copy(update={"store_url": None, "api_key": None}
                                             ).model_dump_json()
        workers = self.client.scheduler_info().get("workers", {})
        log.info("embedding on %d Dask workers at %s", len(workers), address)

    def __call__(self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None
                 ) -> np.ndarray:
        """Embed `texts` across the cluster; rows in the order of `texts`."""
        from distributed import as_completed

        batches = [list(texts[i:i + BATCH]) for i in range(0, len(texts), BATCH)]
        if not batches:
            return np.zeros((0, 0), dtype=np.float32)
        futures = self.client.map(_embed_batch, batches, settings_json=self._settings,
                                  pure=False, retries=3)
        index = {f.key: i for i, f in enumerate(futures)}
        parts: list[np.ndarray | None] = [None] * len(batches)
        done = 0
        if progress:
            progress(0, len(texts))
        try:
            for future in as_completed(futures):
                i = index[future.key]
                parts[i] = future.result()
                done += len(batches[i])
                if progress:
                    progress(done, len(texts))
        except Exception as exc:  # any task failure: the store stays as it was
            raise ClusterError(f"the Dask job failed, nothing was written: {exc}") from exc
        return np.vstack(parts)  # type: ignore[arg-type]

    def close(self) -> None:
        """Disconnect from the scheduler (the cluster keeps running)."""
        self.client.close()

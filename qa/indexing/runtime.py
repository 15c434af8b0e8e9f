"""The model runtime the settings ask for, for indexing here and on a Dask worker alike."""

from __future__ import annotations

from embeddings.model import Embedder
from embeddings.onnx_model import OnnxEmbedder
from qa.config import Settings


def make_embedder(settings: Settings) -> Embedder:
    """Pick the model runtime: ONNX Runtime by default, torch when asked (or as its fallback)."""
    if settings.backend == "onnx":
        return OnnxEmbedder(settings.model, settings.threads, settings.batch_size,
                            settings.cache_dir, settings.int8_queries, settings.query_threads)
    return Embedder(settings.model, settings.threads, settings.batch_size)

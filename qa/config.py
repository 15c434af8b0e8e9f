"""Settings shared by the CLI, the API and the library, read from VERBATIM_* environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SEEDS_DIR = PROJECT_ROOT / "seeds"
DEFAULT_DATA_DIR = Path("data")
DEFAULT_CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "verbatim"


class Settings(BaseSettings):
    """Every tunable of Verbatim in one place, so the CLI, the server and the tests agree."""

    model_config = SettingsConfigDict(env_prefix="VERBATIM_", extra="ignore")

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Where the index (SQLite + FAISS) lives.")
    seeds_dir: Path = Field(DEFAULT_SEEDS_DIR, description="Documents indexed on first start.")
    model: str = Field("all-MiniLM-L6-v2", description="Embedding model name (packaged, offline).")
    backend: Literal["onnx", "torch"] = Field(
        "onnx", description="Run the model with ONNX Runtime (exported locally once) or torch.")
    cache_dir: Path = Field(DEFAULT_CACHE_DIR, description="Where the ONNX export is kept.")
    threads: int = Field(0, ge=0, description="Model threads; 0 means one per core.")
    batch_size: int = Field(64, ge=1, le=1024)
    embed_titles: bool = Field(True, description="Embed sentences as 'title: sentence'.")

    # Chunking: passages of a few sentences with overlap.
    passage_sentences: int = Field(4, ge=1, le=50)
    passage_overlap: int = Field(1, ge=0, le=49)
    passage_max_chars: int = Field(1200, ge=100)

    # Retrieval and answering.
    candidates: int = Field(60, ge=5, le=2000, description="Sentences scored per question.")
    abstain_below: float = Field(
        0.20, ge=0.0, le=1.0, description="Abstain when the best answer's confidence is lower."
    )


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, letting CLI flags win over it."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)

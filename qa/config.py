"""Settings shared by the CLI, the API and the library, read from VERBATIM_* environment variables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from embeddings.onnx_model import DEFAULT_CACHE_DIR

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SEEDS_DIR = PROJECT_ROOT / "seeds"
DEFAULT_DATA_DIR = Path("data")
# The defaults the library's own classes take too, so the two can never disagree.
ABSTAIN_BELOW = 0.21
CONFIDENT_ABOVE = 0.5  # the "confident" band starts here (docs/quality.md#bands)
VERIFY_BELOW = 0.12
CANDIDATES = 60
PASSAGE_CANDIDATES = 10


class StoreUrlError(ValueError):
    """A store URL that names no backend Verbatim has, or that cannot be reached."""


BACKENDS = ("sqlite", "postgresql")


def backend_of(url: str | None) -> str:
    """Name the backend a store URL asks for (no URL: the default, SQLite in the data dir)."""
    if not url or url.startswith("sqlite:"):
        return "sqlite"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql"
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise StoreUrlError(f"unknown store URL scheme {scheme!r}: use postgresql://... "
                        f"(or none for SQLite in the data directory)")


class Settings(BaseSettings):
    """Every tunable of Verbatim in one place, so the CLI, the server and the tests agree."""

    model_config = SettingsConfigDict(env_prefix="VERBATIM_", extra="ignore")

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Where the index (SQLite + FAISS) lives.")
    store_url: str | None = Field(
        None, description="A shared store for replicas (postgresql://user@host/db); the data "
                          "dir then holds this replica's mirror of it. None: SQLite in the data "
                          "dir.")
    store_read_url: str | None = Field(
        None, description="A streaming standby of the store to read from (writes still go to "
                          "store_url).")
    seeds_dir: Path = Field(DEFAULT_SEEDS_DIR, description="Documents indexed on first start.")
    seed_on_start: bool = Field(
        True, description="Index the seeds when the server starts on an empty data dir.")
    model: str = Field("all-MiniLM-L6-v2", description="Embedding model name (packaged, offline).")
    backend: Literal["onnx", "torch"] = Field(
        "onnx", description="Run the model with ONNX Runtime (exported locally once) or torch.")
    cache_dir: Path = Field(DEFAULT_CACHE_DIR, description="Where the ONNX export is kept.")
    int8_queries: bool = Field(
        True, description="Encode questions with an int8 copy of the ONNX model (about 3x "
                          "faster; documents keep full precision).")
    threads: int = Field(0, ge=0, description="Model threads; 0 means one per core.")
    query_threads: int = Field(
        1, ge=0, description="Threads of the int8 question model; 0 means one per core. One "
                             "embeds a short question fastest and leaves a core to BM25.")
    batch_size: int = Field(64, ge=1, le=1024)
    add_batch_chars: int = Field(
        1_000_000, ge=1,
        description="Text (in characters) `qa add` and `qa sync` read, embed and commit at a "
                    "time: memory stays bounded by it, and a run stopped midway keeps what it "
                    "committed (the next run skips those documents as unchanged).")
    embed_titles: bool = Field(True, description="Embed sentences as 'title: sentence'.")
    derive_passages: bool = Field(
        False, description="Give a passage the mean of its sentences' vectors instead of "
                           "embedding its text (a passage without a quotable sentence is still "
                           "embedded): about half the model's work when indexing.")

    context_vectors: bool = Field(
        False, description="Embed each sentence alone and each heading path once, and compose "
                           "a sentence's vector from the two (see context_weight), instead of "
                           "embedding 'title › section: sentence' whole: the model's work per "
                           "sentence drops to the bare sentence's.")
    context_weight: float = Field(
        1.25, ge=0.0, le=5.0, description="The heading path's weight with context_vectors, "
        "times the square root of its length over the sentence's.")

    # Chunking: passages of a few sentences with overlap.
    passage_sentences: int = Field(4, ge=1, le=50)
    passage_overlap: int = Field(1, ge=0, le=49)
    passage_max_chars: int = Field(1200, ge=100)

    # Retrieval and answering.
    candidates: int = Field(CANDIDATES, ge=5, le=2000,
                            description="Sentences each search contributes per question.")
    passage_candidates: int = Field(PASSAGE_CANDIDATES, ge=1, le=200,
                                    description="Passages each search contributes per question.")
    lexical_budget: int = Field(
        2000, ge=100, description="Most rows one BM25 search scores; past it the question's "
                                  "commonest words are left out of the search.")
    abstain_below: float = Field(
        ABSTAIN_BELOW, ge=0.0, le=1.0,
        description="Abstain when the best answer's confidence is lower."
    )
    confident_above: float = Field(
        CONFIDENT_ABOVE, ge=0.0, le=1.0,
        description="An answer at or above this confidence is shown as confident; between "
                    "abstain_below and this, as a possible answer to check against its source.")
    verify_below: float = Field(
        VERIFY_BELOW, ge=0.0, le=1.0, description="The verifier overrules the ranking's confidence when "
                                         "its own is lower than this (keep it at or below "
                                         "abstain_below).")
    verify: bool = Field(
        True, description="Judge whether the best sentence answers (the trained verifier) "
                          "before quoting it; off: confidence from the ranking's calibration "
                          "alone.")

    approximate_above: int = Field(
        20_000, ge=1, description="Vectors above which search uses an approximate (IVF) index; "
                                  "below it a flat scan takes about 1 ms.")
    nprobe: int = Field(64, ge=1, le=4096, description="IVF clusters searched per question "
                                                       "(recall@10 >= 0.98 up to 1M vectors).")

    # Serving and access control.
    host: str = Field("127.0.0.1", description="Address `qa serve` listens on.")
    workers: int = Field(
        1, ge=1, le=64, description="Server processes; each has its own model and vectors, "
                                    "so questions are answered in parallel beyond one core.")
    port: int = Field(8000, ge=0, le=65535)
    api_key: SecretStr | None = Field(
        None, description="When set, writes need `Authorization: Bearer <key>`.")
    allow_open_writes: bool = Field(
        False, description="Allow writes without a key on a non-loopback address.")
    api_keys_file: Path | None = Field(
        None, description="A JSON file of scoped keys, {\"<key>\": {\"collections\": "
                          "[\"handbook\"] or \"*\", \"rights\": [\"read\", \"write\"]}}. "
                          "When set, every request needs a key (one of these, or the API "
                          "key, which may do everything), and each sees only its collections.")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser "
                                          "(comma-separated; '*' for any). Off by default.")
    header_timeout: float = Field(
        10.0, gt=0, description="Seconds a request's headers may take to arrive, from the "
                                "connection (or the request's first byte); slower connections "
                                "are closed.")
    body_timeout: float = Field(
        120.0, gt=0, description="Seconds a request's body may take to arrive.")
    max_connections: int = Field(
        1000, ge=1, description="Open connections per server process; more are closed at once.")
    max_request_mb: float = Field(
        50.0, gt=0, description="Largest request body for document uploads, in MB.")
    log_format: Literal["auto", "json", "text"] = Field(
        "auto", description="Server log lines: text at a terminal, JSON otherwise (auto).")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """Read origins as a comma-separated list, the form an environment variable has."""
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @field_validator("store_url", mode="before")
    @classmethod
    def _known_store(cls, value: object) -> object:
        """Refuse a store URL no backend reads, before anything is opened."""
        if isinstance(value, str):
            value = value.strip() or None
            backend_of(value)
        return value

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: object) -> object:
        """Treat an empty key as no key rather than a key anyone can guess."""
        return None if isinstance(value, str) and not value.strip() else value


def to_environment(settings: Settings) -> dict[str, str]:
    """Write settings as VERBATIM_* variables, so worker processes read the same ones."""
    out = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, list):
            value = ",".join(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        out[f"VERBATIM_{name.upper()}"] = str(value)
    return out


def describe_errors(errors: Iterable[Mapping[str, Any]]) -> str:
    """Say in one line what was wrong with settings or a request ("body.top_k: Input should
    be ..."), for a CLI message or an HTTP 422 alike."""
    return "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                     for e in errors)


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, letting CLI flags win over it."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)

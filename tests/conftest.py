"""Shared fixtures: one embedding model per test run, fresh data directories per test."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import qa.app.service
from api.cli import app
from api.main import create_app
from embeddings.onnx_model import OnnxEmbedder
from qa.app.service import Verbatim
from qa.config import DEFAULT_SEEDS_DIR, Settings
from qa.storage.local_postgres import LocalPostgres

DATA = Path(__file__).with_name("data")
LOCAL = "http://127.0.0.1:8000"  # the address `qa serve` answers on by default


class CountingEmbedder(OnnxEmbedder):
    """The model as `qa serve` runs it (ONNX, int8 questions), counting how many texts it
    embedded, to prove work was skipped."""

    def __init__(self) -> None:
        super().__init__(threads=2, int8_queries=True)
        self.calls = 0
        self.texts = 0

    def encode(self, texts, show_progress=False):
        self.calls += 1
        self.texts += len(texts)
        return super().encode(texts, show_progress)


@pytest.fixture(scope="session")
def embedder() -> CountingEmbedder:
    """Load the model once for the whole run."""
    model = CountingEmbedder()
    model.warm_up()
    return model


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at an empty data directory."""
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def service(settings: Settings, embedder: CountingEmbedder) -> Verbatim:
    """An empty service of its own."""
    svc = Verbatim(settings, embedder=embedder)
    svc.warm_up()
    return svc


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory, embedder: CountingEmbedder) -> Verbatim:
    """A service holding the seed documents, shared by read-only tests."""
    svc = Verbatim(Settings(data_dir=tmp_path_factory.mktemp("seeded"),
                            seeds_dir=DEFAULT_SEEDS_DIR), embedder=embedder)
    svc.warm_up()
    svc.ensure_seeded()
    return svc


@pytest.fixture
def client(service: Verbatim) -> Iterator[TestClient]:
    """An HTTP client on an app over an empty index."""
    with TestClient(create_app(service.settings, service=service, seed=False),
                    base_url=LOCAL) as c:
        yield c


@pytest.fixture(scope="session")
def seeded_client(seeded: Verbatim) -> Iterator[TestClient]:
    """An HTTP client on an app serving the seeds."""
    with TestClient(create_app(seeded.settings, service=seeded, seed=False),
                    base_url=LOCAL) as c:
        yield c


def load_questions(name: str = "seed_questions.jsonl") -> list[dict]:
    """Read a question set."""
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """A real PostgreSQL server of the test run's own, on 127.0.0.1 at a random port."""
    server = LocalPostgres().init().start()
    yield server
    server.stop()


@pytest.fixture
def store_url(postgres: LocalPostgres, request: pytest.FixtureRequest) -> str:
    """An empty database of its own on the test run's server."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()
    return postgres.create_database(f"{name}_{next(_DATABASES)}")


_DATABASES = itertools.count()


@pytest.fixture
def cli(monkeypatch, embedder, tmp_path):
    """Run `qa` in-process with the shared model and a fresh data dir."""
    original = qa.app.service.Verbatim.__init__

    def init(self, settings, embedder_=None):
        original(self, settings, embedder=embedder)

    monkeypatch.setattr(qa.app.service.Verbatim, "__init__", init)
    runner = CliRunner()
    data = str(tmp_path / "data")

    def run(*args):
        return runner.invoke(app, [*args, "--data-dir", data])

    return run

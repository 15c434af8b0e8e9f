"""Bulk embedding on a real Dask cluster: separate worker processes over TCP on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import numpy as np
import pytest
from distributed import Client, LocalCluster

from bench.harness import make_doc, run_qa
from qa.app.service import Verbatim
from qa.config import Settings
from qa.indexing.cluster import ClusterError, DaskEncoder
from qa.reading.documents import Document
from qa.storage.local_postgres import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """Two worker processes of one thread each, as on a 2-core machine."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      scheduler_port=0, dashboard_address=None) as local:
        yield local


def docs(n: int) -> list[Document]:
    """Documents with a courier each, enough for several batches of a task."""
    out = []
    for i in range(n):
        d = make_doc(f"d{i}", sentences=25)
        out.append(Document(d["doc_id"], d["title"], d["text"], f"{d['doc_id']}.txt"))
    return out


def by_sentence(service: Verbatim) -> dict[tuple[str, int], np.ndarray]:
    """Each sentence's stored vector, by document and position (row ids change in a rebuild)."""
    ids, vectors = service.store.load_vectors("sentences")
    where = {s.id: (s.doc_id, s.ord) for s in service.store.quotable_sentences()}
    return {where[int(i)]: v for i, v in zip(ids, vectors)}


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two matrices of unit vectors."""
    return np.einsum("ij,ij->i", a, b)


def test_a_rebuild_on_dask_gives_the_vectors_of_one_process_and_survives_a_dead_worker(
        tmp_path, cluster, embedder):
    settings = Settings(data_dir=tmp_path / "d", backend="torch", seed_on_start=False)
    service = Verbatim(settings, embedder=embedder)
    service.add_documents(docs(30))
    before = by_sentence(service)
    encoder = DaskEncoder(cluster.scheduler_address, settings)
    pids = list(encoder.client.run(os.getpid).values())
    seen: list[int] = []
    killed = threading.Event()

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if done and not killed.is_set():  # the first batch is back: kill a worker mid-job
            os.kill(pids[0], signal.SIGKILL)
            killed.set()

    assert service.rebuild(progress, encoder) == 30
    encoder.close()
    assert killed.is_set() and seen[-1] == max(seen)
    after = by_sentence(service)
    assert sorted(after) == sorted(before)
    keys = sorted(before)
    assert cosines(np.array([before[k] for k in keys]),
                   np.array([after[k] for k in keys])).min() >= 0.999  # stored in float16
    answer = service.ask("What did courier D7 carry?")
    assert answer.answers[0].citation.doc_id == "d7"


def test_qa_add_on_dask_from_the_command_line(tmp_path, cluster):
    folder = tmp_path / "in"
    folder.mkdir()
    for d in docs(3):
        (folder / f"{d.doc_id}.txt").write_text(d.text)
    env = {**os.environ, "VERBATIM_BACKEND": "torch"}
    done = run_qa("add", str(folder), "--data-dir", str(tmp_path / "data"), "--dask",
                  cluster.scheduler_address, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "added 3" in done.stdout
    with Client(cluster.scheduler_address) as client:  # the workers did the embedding
        assert any(client.run(lambda: bool(
            __import__("qa.indexing.cluster").indexing.cluster._models)).values())


def test_an_unreachable_scheduler_is_a_message(tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    (tmp_path / "d").mkdir()  # an index to rebuild, if the cluster answered
    result = run_qa("rebuild", "--data-dir", str(tmp_path / "d"), "--dask", address)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"cannot reach the Dask scheduler at {address}" in result.stderr


def test_a_failing_job_writes_nothing(tmp_path, cluster, embedder):
    settings = Settings(data_dir=tmp_path / "d", backend="torch", seed_on_start=False)
    service = Verbatim(settings, embedder=embedder)
    service.add_documents(docs(2))
    generation = service.store.generation
    broken = DaskEncoder(cluster.scheduler_address, settings.model_copy(update={"model": "nope"}))
    with pytest.raises(ClusterError, match="nothing was written"):
        service.rebuild(None, broken)
    broken.close()
    assert service.store.generation == generation and len(service.list_documents()) == 2

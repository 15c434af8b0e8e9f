"""The model runtimes: ONNX Runtime must give the torch model's vectors, or step aside for torch."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings.onnx_model import OnnxEmbedder

TEXTS = ["Who carried the Olympic torch on the spacewalk?", "Sochi 2014",
         "The torch spent more than an hour in open space but was not lit in orbit. " * 20, "x"]


@pytest.mark.slow
def test_onnx_vectors_match_torch(embedder, tmp_path):
    onnx = OnnxEmbedder(threads=2, cache_dir=tmp_path)
    got = onnx.encode(TEXTS)
    assert onnx.backend == "onnx"
    assert got.shape == (len(TEXTS), 384)
    cosine = np.sum(got * embedder.encode(TEXTS), axis=1)
    assert np.all(cosine >= 0.9999), cosine
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # Order is kept although batches are grouped by length.
    assert np.allclose(onnx.encode(TEXTS[::-1])[::-1], got, atol=1e-5)
    assert (tmp_path / next(p.name for p in tmp_path.glob("*.onnx"))).stat().st_size > 1_000_000


@pytest.mark.slow
def test_a_broken_export_falls_back_to_torch(embedder, tmp_path):
    onnx = OnnxEmbedder(threads=2, cache_dir=tmp_path)
    onnx.encode(["warm"])  # exports and checks
    for path in tmp_path.glob("*.onnx"):
        path.write_bytes(b"not an onnx model")
    broken = OnnxEmbedder(threads=2, cache_dir=tmp_path)
    got = broken.encode(TEXTS[:2])
    assert broken.backend == "torch"
    assert np.all(np.sum(got * embedder.encode(TEXTS[:2]), axis=1) >= 0.9999)


@pytest.mark.slow
def test_int8_questions_point_where_full_precision_points(tmp_path):
    full = OnnxEmbedder(threads=2, cache_dir=tmp_path)
    small = OnnxEmbedder(threads=2, cache_dir=tmp_path, int8_queries=True)
    questions = TEXTS[:2]
    reference = full.encode_queries(questions)
    got = small.encode_queries(questions)
    assert small.backend == "onnx+int8-queries" and full.backend == "onnx"
    assert np.all(np.sum(got * reference, axis=1) >= 0.97)
    assert not np.allclose(got, reference)  # the quantised model really answered
    assert np.allclose(small.encode(questions), reference, atol=1e-5)  # documents: full precision


@pytest.mark.slow
def test_a_broken_int8_model_leaves_questions_at_full_precision(tmp_path):
    OnnxEmbedder(threads=2, cache_dir=tmp_path, int8_queries=True).encode_queries(["warm"])
    (broken_file,) = tmp_path.glob("*-int8pc.onnx")
    broken_file.write_bytes(b"not an onnx model")
    onnx = OnnxEmbedder(threads=2, cache_dir=tmp_path, int8_queries=True)
    got = onnx.encode_queries(TEXTS[:2])
    assert onnx.backend == "onnx"
    assert np.allclose(got, OnnxEmbedder(threads=2, cache_dir=tmp_path).encode(TEXTS[:2]),
                       atol=1e-5)

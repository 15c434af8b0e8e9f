"""The same embedding model run by ONNX Runtime: exported once, locally, from the packaged weights.

ONNX Runtime encodes a question in about a third of torch's time on this kind of machine. The
export happens on first use (about 2 s) into a cache folder, is written atomically, and is checked
against the torch model (cosine >= 0.9999) before it is used; any failure falls back to torch.

Questions can go through an int8 copy of the export (dynamic quantisation, made locally once),
about three times faster again. Documents keep the full-precision model: their vectors are made
once and searched for ever, while a question's vector is used once.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embeddings.batching import similar_lengths
from embeddings.model import Embedder, model_path

if TYPE_CHECKING:
    import torch
    from onnxruntime import InferenceSession
    from tokenizers import Encoding, Tokenizer

log = logging.getLogger(__name__)
PARITY_TEXTS = ("Who carried the Olympic torch on the spacewalk?",
                "The torch is scheduled to return back to Earth on November 11.", "x")
MIN_COSINE = 0.9999
MIN_INT8_COSINE = 0.97  # int8 vectors sit at ~0.994 cosine to fp32; far below means a bad file
TOKENS_PER_BATCH = 2048  # padded tokens per model call: bounds attention memory


@contextmanager
def _quiet_tools() -> Iterator[None]:
    """Keep the exporter's and quantiser's chatter (tracer warnings, a progress bar, an INFO
    line per tensor on the root logger) out of the operator's terminal and logs."""
    def drop(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR

    root = logging.getLogger()
    root.addFilter(drop)  # applies only to records logged on the root logger itself
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.removeFilter(drop)


def _quantize(source: Path, target: Path) -> None:
    """Write an int8 (dynamically quantised, per channel) copy of an exported model, atomically."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    os.close(fd)
    try:
        # Per-channel scales keep questions at ~0.994 cosine to fp32 (one scale per tensor: 0.97).
        with _quiet_tools():
            quantize_dynamic(str(source), tmp, weight_type=QuantType.QInt8, per_channel=True)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _export(source: str, target: Path) -> None:
    """Export the transformer to ONNX with dynamic batch and sequence sizes."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    with _quiet_tools():
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModel.from_pretrained(source).eval()

    class Encoder(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    sample = tokenizer(list(PARITY_TEXTS[:2]), padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    os.close(fd)
    try:
        with torch.no_grad(), _quiet_tools():
            torch.onnx.export(Encoder(model), tuple(sample[n] for n in names), tmp,
                              input_names=names, output_names=["last_hidden_state"],
                              dynamic_axes={n: {0: "batch", 1: "tokens"}
                                            for n in [*names, "last_hidden_state"]},
                              opset_version=17, dynamo=False)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


DEFAULT_CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "verbatim"
SERIAL_TOKENIZE = 16  # up to this many texts, tokenising in one thread beats the thread pool
# A question is read up to this many word pieces: far more than any real question (or a
# follow-up with its bounded context) needs, and it keeps a 2,000-character question of
# made-up words from costing as much as a 256-token passage.
QUESTION_TOKENS = 128
SHORT_TOKENS = 32  # texts up to this many word pieces share a model call whatever their lengths


class OnnxEmbedder(Embedder):
    """Embeds with ONNX Runtime and the model's own fast tokenizer; torch only exports."""

    def __init__(self, name: str = "all-MiniLM-L6-v2", threads: int = 0, batch_size: int = 64,
                 cache_dir: Path | None = None, int8_queries: bool = False,
                 query_threads: int = 1) -> None:
        """Remember where the exported model is kept; loading happens on first use."""
        super().__init__(name, threads, batch_size)
        self.query_threads = query_threads
        self.cache_dir = Path(cache_dir or DEFAULT_CACHE_DIR)
        self.int8_queries = int8_queries
        self._session = None
        self._query_session = None
        self._tokenizer = None
        self._question_tokenizer = None
        self._fallback = False
        self._dim = 0
        self._onnx_lock = threading.Lock()
        self.backend = "onnx"

    @property
    def dim(self) -> int:
        """Give the vector size the index must be built with."""
        self._load_onnx()
        return super().dim if self._fallback else self._dim

    def _load_onnx(self) -> None:
        """Export (once) and open the ONNX model; fall back to torch if anything is off."""
        if self._session is not None or self._fallback:
            return
        with self._onnx_lock:
            if self._session is not None or self._fallback:
                return
            try:
                from tokenizers import Tokenizer

                source = model_path(self.name)
                # Name the export after the exporter's version, without importing torch at start.
                target = self.cache_dir / f"{self.name}-torch{version('torch')}.onnx"
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                checked = target.with_suffix(".checked")
                if not target.exists():
                    log.info("first start: exporting %s to ONNX for faster answers (once, "
                             "about 10 s) at %s", self.name, target)
                    _export(source, target)
                    checked.unlink(missing_ok=True)
                session = self._open(target)
                tokenizer = Tokenizer.from_file(str(Path(source) / "tokenizer.json"))
                config = json.loads((Path(source) / "sentence_bert_config.json").read_text())
                tokenizer.enable_truncation(max_length=int(config.get("max_seq_length", 256)))
                tokenizer.no_padding()  # the file pads to a fixed 128; batches pad themselves
                questions = Tokenizer.from_str(tokenizer.to_str())
                questions.enable_truncation(max_length=QUESTION_TOKENS)
                self._session, self._tokenizer = session, tokenizer
                self._question_tokenizer = questions
                self._dim = int(self._run(["x"]).shape[1])
                if not checked.exists():  # once per export: agree with the torch model
                    reference = super().encode(list(PARITY_TEXTS))
                    cosine = float(np.min(np.sum(self._run(list(PARITY_TEXTS)) * reference, 1)))
                    if cosine < MIN_COSINE:
                        target.unlink(missing_ok=True)
                        raise RuntimeError(f"ONNX output differs from torch (cosine {cosine:.6f})")
                    checked.write_text(f"{cosine:.8f}\n")
            except Exception as exc:  # noqa: BLE001 - any export/runtime problem: torch works
                log.warning("ONNX Runtime unavailable, using torch: %s", exc)
                self._session, self._tokenizer, self._fallback = None, None, True
                self.backend = "torch"
                return
            if self.int8_queries:
                self._load_int8(target)

    def _open(self, path: Path, threads: int | None = None) -> InferenceSession:
        """Open a model file with thread settings that fit the machine."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads if threads is None else threads
        options.inter_op_num_threads = 1
        # Idle threads must not spin: they would steal the cores FAISS and SQLite need right
        # after each question is encoded.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def _load_int8(self, exported: Path) -> None:
        """Quantise the export for questions (once) and check it still points the same way."""
        target = exported.with_name(f"{exported.stem}-int8pc.onnx")
        try:
            if not target.exists():
                log.info("first start: quantising %s to int8 for questions (once, a few "
                         "seconds) at %s", self.name, target)
                _quantize(exported, target)
            # One thread embeds a short question fastest (1.1 ms against 1.5 ms with two
            # here) and leaves the other core to the BM25 search running meanwhile.
            session = self._open(target, self.query_threads)
            full = self._run(list(PARITY_TEXTS))
            small = self._run(list(PARITY_TEXTS), session)
            cosine = float(np.min(np.sum(full * small, axis=1)))
            if cosine < MIN_INT8_COSINE:
                raise RuntimeError(f"int8 output strays from fp32 (cosine {cosine:.4f})")
            self._query_session = session
            self.backend = "onnx+int8-queries"
        except Exception as exc:  # noqa: BLE001 - the full-precision model still answers
            log.warning("int8 question model unavailable, using full precision: %s", exc)
            target.unlink(missing_ok=True)  # made afresh on the next start

    def _run(self, texts: list[str], session: InferenceSession | None = None,
             tokenizer: Tokenizer | None = None) -> np.ndarray:
        """Embed one small batch of texts (with the full-precision model and passage
        tokenizer unless told).

        A few texts are tokenised one by one: `encode_batch` hands them to a thread pool whose
        sleeping threads take longer to wake (0.45 ms in the server) than the work (0.08 ms).
        """
        tokenizer = tokenizer or self._tokenizer
        if len(texts) <= SERIAL_TOKENIZE:
            encodings = [tokenizer.encode(t) for t in texts]
        else:
            encodings = tokenizer.encode_batch(texts)
        # Texts of very different lengths run apart (a follow-up and its question joined to the
        # earlier turn, say): padding the short one to the long one's width would double the cost.
        groups = similar_lengths([len(e.ids) for e in encodings], SHORT_TOKENS)
        if len(groups) == 1:
            return self._run_encoded(encodings, session)
        out: list[np.ndarray | None] = [None] * len(encodings)
        for group in groups:
            for i, vector in zip(group, self._run_encoded([encodings[i] for i in group], session)):
                out[i] = vector
        return np.stack(out)

    def _encode_questions(self, texts: list[str]) -> np.ndarray:
        """Embed a micro-batch of questions, read up to `QUESTION_TOKENS` word pieces, with
        the int8 model when it is in use."""
        self._load_onnx()
        if self._fallback:
            return self.encode(texts)
        if self._query_session is not None and len(texts) > 1:
            # The int8 model scales its activations by what is in the batch: batched with
            # others, a question's vector moves (cosine ~0.99) and its answer's confidence
            # with it. Each question runs alone, so an answer never depends on who else asked.
            return np.concatenate([self._run([t], self._query_session, self._question_tokenizer)
                                   for t in texts])
        return self._run(texts, self._query_session, self._question_tokenizer)

    def _run_encoded(self, encodings: list[Encoding],
                     session: InferenceSession | None = None) -> np.ndarray:
        """Pad one batch of tokenised texts, run the model and mean-pool into unit vectors."""
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, :len(e.ids)] = e.ids
            mask[row, :len(e.ids)] = 1
        hidden = (session or self._session).run(
            None, {"input_ids": ids, "attention_mask": mask,
                   "token_type_ids": np.zeros_like(ids)})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Embed texts as unit vectors, batching similar lengths together to save padding.

        Batches are capped by padded tokens, not only by count: attention memory grows with
        the square of the length, and one batch of 64 long passages would hold ~1 GB.
        """
        self._load_onnx()
        if self._fallback:
            return super().encode(texts, show_progress)
        texts = list(texts)
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        with self._lock:  # one model call at a time: parallel calls only fight over the cores
            encodings = self._tokenizer.encode_batch(texts)
            lengths = np.array([len(e.ids) for e in encodings])
            order = np.argsort(lengths, kind="stable")
            out = np.zeros((len(texts), self._dim), dtype=np.float32)
            start = 0
            while start < len(order):
                end = start + 1
                while (end < len(order) and end - start < self.batch_size
                       and (end - start + 1) * lengths[order[end]] <= TOKENS_PER_BATCH):
                    end += 1
                batch = order[start:end]
                out[batch] = self._run_encoded([encodings[j] for j in batch])
                start = end
        return out

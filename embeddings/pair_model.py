"""The sentence-pair model: all-MiniLM-L6-v2 reading a question and a sentence together.

A question and its best sentence embedded apart can be close while the sentence does not answer
("Who lit the cauldron?" and "the Torch will light the Cauldron"). Read as one input, every
question word attends to the sentence's words. The top layers and a linear head were trained to
say whether the sentence answers (`training/train_pair_model.py`); only those trained weights
ship, in `pair_model.npz`, and are laid over the packaged model's own.

Serving runs an int8 ONNX export of the result, made locally on first use like the embedder's
(about 2 ms for one pair on one thread), checked against the torch model before it is used.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

import numpy as np

from embeddings.model import model_path
from embeddings.onnx_model import _quantize

log = logging.getLogger(__name__)
PAIR_MODEL_FILE = Path(__file__).with_name("pair_model.npz")
BASE_MODEL = "all-MiniLM-L6-v2"
MAX_TOKENS = 128  # question and sentence together; the sentence is cut first
PARITY_PAIRS = (("Who carried the torch?", "Oleg Kotov carried the torch on the spacewalk."),
                ("What was the name of the mascot?", "A stuffed mascot was also on board."))
MAX_PARITY_GAP = 0.5  # int8 logits stray ~0.05 from torch's; far more means a bad file


def build_torch_model(trainable_layers: int = 0, state: dict[str, np.ndarray] | None = None
                      ):  # noqa: ANN201 - (tokenizer, torch module)
    """The packaged model with a pair head; the top `trainable_layers` layers learn, and
    `state` (trained weights by name) is laid over the packaged ones."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    source = model_path(BASE_MODEL)

    class PairModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(source)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN201
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return self.head(pooled).squeeze(-1)

    model = PairModel()
    layers = model.encoder.encoder.layer
    for p in model.encoder.parameters():
        p.requires_grad = False
    for layer in layers[len(layers) - trainable_layers:] if trainable_layers else []:
        for p in layer.parameters():
            p.requires_grad = True
    if state:
        own = model.state_dict()
        unknown = set(state) - set(own)
        if unknown:
            raise ValueError(f"pair model weights name unknown parameters: {sorted(unknown)[:3]}")
        own.update({k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in state.items()})
        model.load_state_dict(own)
    return AutoTokenizer.from_pretrained(source), model.eval()


def trained_state(model) -> dict[str, np.ndarray]:  # noqa: ANN001 - a PairModel
    """The weights training changed (trained layers and head), by name, for shipping."""
    return {n: p.detach().numpy().copy() for n, p in model.named_parameters()
            if p.requires_grad or n.startswith("head")}


def load_state(path: Path = PAIR_MODEL_FILE) -> dict[str, np.ndarray]:
    """Read the shipped trained weights."""
    with np.load(path) as data:
        return {k: data[k] for k in data.files if k != "layers"}


class PairScorer:
    """Scores (question, sentence) pairs: the logit that the sentence answers the question."""

    def __init__(self, cache_dir: Path, path: Path = PAIR_MODEL_FILE, threads: int = 1) -> None:
        """Remember where the weights and the export live; loading happens on first use."""
        self.cache_dir = Path(cache_dir)
        self.path = path
        self.threads = threads
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _export(self, target: Path) -> None:
        """Build the trained model, export it to ONNX and quantise it (once per weights file)."""
        import os
        import tempfile

        import torch

        _, model = build_torch_model(state=load_state(self.path))
        names = ["input_ids", "attention_mask", "token_type_ids"]
        sample = self._encode(PARITY_PAIRS)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
        os.close(fd)
        try:
            with torch.no_grad():
                torch.onnx.export(model, tuple(torch.from_numpy(sample[n]) for n in names), tmp,
                                  input_names=names, output_names=["logit"],
                                  dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names},
                                                "logit": {0: "batch"}},
                                  opset_version=17, dynamo=False)
                reference = model(**{n: torch.from_numpy(sample[n]) for n in names}).numpy()
            _quantize(Path(tmp), target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        session = self._open(target)
        gap = float(np.max(np.abs(self._run(session, sample) - reference)))
        if gap > MAX_PARITY_GAP:
            target.unlink(missing_ok=True)
            raise RuntimeError(f"int8 pair model strays from torch (logit gap {gap:.3f})")

    def _encode(self, pairs) -> dict[str, np.ndarray]:  # noqa: ANN001 - (question, sentence)s
        """Tokenise pairs into padded model inputs."""
        encodings = [self._tokenizer.encode(q, s) for q, s in pairs]
        width = max(len(e.ids) for e in encodings)
        out = {n: np.zeros((len(encodings), width), np.int64)
               for n in ("input_ids", "attention_mask", "token_type_ids")}
        for row, e in enumerate(encodings):
            out["input_ids"][row, :len(e.ids)] = e.ids
            out["attention_mask"][row, :len(e.ids)] = 1
            out["token_type_ids"][row, :len(e.ids)] = e.type_ids
        return out

    def _open(self, path: Path):  # noqa: ANN202 - an ONNX Runtime session
        """Open the export with one thread that does not spin between calls."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    @staticmethod
    def _run(session, inputs: dict[str, np.ndarray]) -> np.ndarray:  # noqa: ANN001
        """Run the export on prepared inputs."""
        return session.run(None, inputs)[0]

    def load(self) -> None:
        """Export (once) and open the model; a failure leaves the scorer unavailable."""
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_file(str(Path(model_path(BASE_MODEL)) /
                                                      "tokenizer.json"))
            self._tokenizer.no_padding()
            self._tokenizer.enable_truncation(max_length=MAX_TOKENS, strategy="only_second")
            digest = hashlib.sha256(self.path.read_bytes()).hexdigest()[:12]
            target = self.cache_dir / f"pair-{digest}-int8.onnx"
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                log.info("building the pair model at %s (once)", target)
                self._export(target)
            self._session = self._open(target)

    def score(self, question: str, sentence: str) -> float:
        """The logit that `sentence` answers `question`."""
        self.load()
        return float(self._run(self._session, self._encode([(question, sentence)]))[0])

"""The SQuAD file indexed once for the training scripts, kept under bench/.cache."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from qa.config import Settings
from qa.evaluation import EvalQuestion, load_squad
from qa.service import Verbatim

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
DEFAULT_SQUAD = ROOT.parent / "shared" / "data" / "squad-dev-public.json"


def open_squad_index(squad: Path, tag: str = "") -> tuple[Verbatim, list[EvalQuestion]]:
    """A service over every paragraph of a SQuAD file (indexed on first use, then reused:
    unchanged documents are skipped), and the file's questions."""
    docs, questions = load_squad(squad)
    service = Verbatim(Settings(data_dir=CACHE / f"index-{squad.stem}{tag}",
                                seeds_dir=CACHE / "none"))
    service.warm_up()
    if service.indexer.model_mismatch():
        service.rebuild()
    with tqdm(desc="indexing", unit="text", mininterval=10) as bar:
        service.add_documents(docs, lambda done, total: (setattr(bar, "total", total),
                                                         bar.update(done - bar.n)))
    return service, questions

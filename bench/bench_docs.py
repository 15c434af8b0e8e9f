"""Answering from real manuals: one `qa add` of a whole manual, then its question set.

Usage: python bench/bench_docs.py [--manual python|postgresql] [--reuse]

The manuals are Debian's HTML documentation (`apt-get install python3.11-doc postgresql-doc-15`;
nothing is downloaded at run time). A manual's HTML pages are copied into a folder of their own
(Sphinx's `_sources/` and `_static/` left out: they are the pages' sources, not pages), indexed
with `qa add FOLDER` in a process of its own, as a user would, then asked their questions with
`qa eval`. Writes bench/results/docs-<manual>.md with the add's summary, its wall time and peak
memory, and the figures; `--reuse` asks again without re-indexing (after a ranking change).
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import provenance

CACHE = ROOT / "bench" / ".cache"
MANUALS = {
    "python": (Path("/usr/share/doc/python3.11/html"), "python3.11-doc",
               ROOT.parent / "shared" / "data" / "docs-python" / "questions.jsonl"),
    "postgresql": (Path("/usr/share/doc/postgresql-doc-15/html"), "postgresql-doc-15",
                   ROOT / "bench" / "data" / "docs-postgresql-15.jsonl"),
}
SHOWN = ("questions", "answerable", "answered_right", "p_at_1", "r_at_3", "r_at_5",
         "answerable_abstained", "abstained_near", "abstained_off", "latency_p50_ms")


def manual_pages(manual: str) -> list[Path]:
    """A manual's HTML pages (Sphinx's `_sources/` and `_static/` left out), or exit saying
    which Debian package to install."""
    source, package, _ = MANUALS[manual]
    if not source.is_dir():
        sys.exit(f"{source} is missing: apt-get install {package}")
    return sorted(p for p in source.rglob("*.html")
                  if not p.relative_to(source).parts[0].startswith("_"))


def copy_pages(manual: str, target: Path) -> int:
    """Copy a manual's HTML pages, keeping their paths (the questions name pages by them)."""
    if target.exists():
        shutil.rmtree(target)
    source = MANUALS[manual][0]
    pages = manual_pages(manual)
    for page in pages:
        relative = page.relative_to(source)
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, target / relative)
    return len(pages)


def qa(*args: str) -> subprocess.CompletedProcess:
    """Run a `qa` command in a process of its own, as a user would."""
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT,
                          capture_output=True, text=True)


def main() -> None:
    """Index one manual and ask its questions; write the results table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manual", choices=sorted(MANUALS), default="python")
    parser.add_argument("--reuse", action="store_true", help="keep the index of a last run")
    args = parser.parse_args()
    source, package, questions = MANUALS[args.manual]
    if not source.is_dir():
        sys.exit(f"{source} is missing: apt-get install {package}")
    folder, index = CACHE / f"manual-{args.manual}", CACHE / f"index-docs-{args.manual}"
    added_file = index / "bench-add.md"  # what the add that built the index measured
    lines = []
    if not (args.reuse and added_file.exists()):
        pages = copy_pages(args.manual, folder)
        shutil.rmtree(index, ignore_errors=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t = time.perf_counter()
        added = qa("add", str(folder), "--data-dir", str(index))
        wall = time.perf_counter() - t
        peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
        summary = [x for x in added.stdout.splitlines() if x.startswith("documents: added")]
        disk = sum(f.stat().st_size for f in index.iterdir() if f.is_file())
        embedded = re.search(r"\(([\d,]+) sentences embedded", summary[0] if summary else "")
        per = (f" ({disk / 1024 / int(embedded[1].replace(',', '')):.1f} KB per quotable "
               f"sentence, originals included)" if embedded else "")
        lines += [f"`qa add` of {pages} pages: exit {added.returncode}, "
                  f"{summary[0] if summary else added.stderr[-300:]}; {wall / 60:.1f} min, "
                  f"peak RSS {peak:.0f} MB, {disk / 1e6:.0f} MB on disk{per}.", ""]
        refused = [x for x in added.stderr.splitlines() if x.startswith("skipped")]
        lines += [f"- {x}" for x in refused[:20]] + ([""] if refused else [])
        built = provenance(f"python bench/bench_docs.py --manual {args.manual}")
        lines = [f"Index built by: {built[0].lower()}{built[1:]}", "", *lines]
        added_file.write_text("\n".join(lines))
    else:
        lines = added_file.read_text().splitlines() + ["(index reused)", ""]
    asked = qa("eval", str(questions), "--data-dir", str(index), "--json")
    if asked.returncode:
        sys.exit(asked.stderr[-2000:])
    metrics = json.loads(asked.stdout)
    embedded = re.search(r"\(([\d,]+) sentences embedded", "\n".join(lines))
    disk = sum(f.stat().st_size for f in index.iterdir() if f.is_file())
    with closing(sqlite3.connect(index / "verbatim.sqlite3")) as db:
        originals = db.execute("SELECT coalesce(sum(length(data)), 0) FROM originals"
                               ).fetchone()[0]
    if embedded:  # now with the FAISS files the first load wrote
        lines += [f"The index on disk once loaded (FAISS files included): {disk / 1e6:.0f} MB, "
                  f"{disk / 1024 / int(embedded[1].replace(',', '')):.1f} KB per quotable "
                  f"sentence; of it the original files kept: {originals / 1e6:.0f} MB.", ""]
    lines += ["| " + " | ".join(SHOWN) + " |", "|" + "---|" * len(SHOWN),
              "| " + " | ".join(str(metrics.get(k)) for k in SHOWN) + " |"]
    command = f"python bench/bench_docs.py --manual {args.manual}"
    text = f"# Documentation: {args.manual}\n\n{provenance(command)}\n\n" + "\n".join(lines) + "\n"
    out = ROOT / "bench" / "results" / f"docs-{args.manual}.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""The `qa` command's core: ask, add, sync, remove, documents, rebuild, vacuum, eval.

`qa serve` belongs to the API and registers itself from `api/cli.py`, the entry point, so this
module imports nothing of `api/`."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qa.answering.filters import FilterError, combine, parse_filter
from qa.config import get_settings
from qa.indexing.indexer import Encoder, ModelMismatch, Progress
from qa.reading.documents import DocumentError
from qa.reading.formats import SUPPORTED_SUFFIXES
from qa.reading.layout import SECTION_SEPARATOR, location_label
from qa.reading.metadata import MetadataError, make_metadata, parse_pairs

if TYPE_CHECKING:
    from qa.answering.answerer import Citation
    from qa.app.service import DocumentProgress, Verbatim
    from qa.app.sync import FolderSync

app = typer.Typer(help="Verbatim: ask your documents, get the exact sentence that answers.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", help="Index folder (default: $VERBATIM_DATA_DIR or ./data).")]
NoSeeds = Annotated[bool, typer.Option("--no-seeds", help="Don't index the seed documents.")]
Dask = Annotated[str | None, typer.Option(
    "--dask", metavar="SCHEDULER", help="Embed on the Dask cluster whose scheduler is at this "
                                        "address (tcp://host:8786).")]
StoreUrl = Annotated[str | None, typer.Option(
    "--store-url", envvar="VERBATIM_STORE_URL", show_envvar=True,
    help="A shared PostgreSQL store (postgresql://user@host/db) for replicas; the data dir "
         "then holds this machine's copy. Default: SQLite in the data dir.")]
Collection = Annotated[str | None, typer.Option(
    "--collection", help="The collection: documents added go in it, questions are answered "
                         "from it alone.")]
Tags = Annotated[list[str] | None, typer.Option(
    "--tag", help="A tag for every document added (repeat for more).")]
Fields = Annotated[list[str] | None, typer.Option(
    "--meta", help="A key=value every document added carries (repeat for more); a number is "
                   "stored as one.")]


def fail(message: str, code: int = 1) -> None:
    """Stop with a message instead of a stack trace."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@contextmanager
def open_service(data_dir: Path | None, seed: bool = False, store_url: str | None = None,
                 existing: bool = False) -> Iterator[Verbatim]:
    """Open the service for one command, turning known failures into messages; `existing`:
    the command reads an index, so a data dir that does not exist is a mistyped path, not a
    new index to create (with a shared store, the data dir is only this machine's copy)."""
    from pydantic import ValidationError

    from qa.app.service import Verbatim
    from qa.config import StoreUrlError, describe_errors

    try:
        settings = get_settings(data_dir=data_dir, store_url=store_url)
    except ValidationError as exc:
        fail(describe_errors(exc.errors()))
    if existing and settings.store_url is None and not settings.data_dir.is_dir():
        fail(f"no index at {settings.data_dir}: check --data-dir (`qa add` or `qa serve` makes "
             f"one)")
    try:
        service = Verbatim(settings)
        if seed:
            with _progress("Indexing seeds") as progress:
                service.ensure_seeded(progress)
        yield service
        service.close()
    except (DocumentError, ModelMismatch, StoreUrlError, FilterError, MetadataError) as exc:
        fail(str(exc))


@contextmanager
def _cluster(address: str | None, service: Verbatim) -> Iterator[Encoder | None]:
    """Connect to a Dask scheduler for one command (None: embed in this process)."""
    if address is None:
        yield None
        return
    from qa.indexing.cluster import ClusterError, DaskEncoder

    try:
        encoder = DaskEncoder(address, service.settings)
    except ClusterError as exc:
        fail(str(exc))
    try:
        yield encoder
    except ClusterError as exc:
        fail(str(exc))
    finally:
        encoder.close()


@contextmanager
def _progress(label: str) -> Iterator[Progress]:
    """Show a progress bar with rate and ETA for long indexing work."""
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=label, unit="text", file=sys.stderr, dynamic_ncols=True)
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


@contextmanager
def _document_progress(found: bool = True) -> Iterator[tuple[DocumentProgress, Progress]]:
    """One bar in documents from reading to writing: the phase, the sentences embedded so
    far and an ETA, and within a batch how far its embedding has gone (`found`: say first
    how many files a folder holds)."""
    from tqdm import tqdm

    bar: tqdm | None = None
    state = {"phase": "reading", "sentences": 0}

    def steps(phase: str, done: int, total: int, sentences: int) -> None:
        """Move the bar to a phase and a count of documents done."""
        nonlocal bar
        if bar is None:
            if found:
                typer.echo(f"found {total} file(s) to read", err=True)
            bar = tqdm(total=total, unit="doc", file=sys.stderr, dynamic_ncols=True)
        state.update(phase=phase, sentences=sentences)
        bar.set_description(phase)
        bar.set_postfix_str(f"{sentences:,} sentences embedded", refresh=False)
        bar.update(done - bar.n)

    def texts(done: int, total: int) -> None:
        """Say how far the current batch's embedding has gone."""
        if bar is not None:
            bar.set_postfix_str(f"{state['sentences']:,} sentences embedded; this batch "
                                f"{done:,}/{total:,} texts")

    try:
        yield steps, texts
    finally:
        if bar is not None:
            bar.close()


@app.command()
def ask(question: Annotated[str, typer.Argument(help="The question to answer.")],
        top_k: Annotated[int, typer.Option("--top-k", min=1, max=20,
                                           help="How many ranked answers.")] = 3,
        as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
        collection: Collection = None,
        where: Annotated[str | None, typer.Option(
            "--filter", help='Answer only from the documents a JSON filter keeps, e.g. '
                             '\'{"tags": {"in": ["hr"]}}\' (docs/filters.md).')] = None,
        data_dir: DataDir = None, no_seeds: NoSeeds = False, store_url: StoreUrl = None) -> None:
    """Answer a question from the indexed documents (or from some of them)."""
    from qa.answering.conversation import clean_question

    try:
        question = clean_question(question)
    except ValueError as exc:
        fail(f"the question {exc}")
    try:
        spec = combine(collection, parse_filter(where))
    except FilterError as exc:
        fail(str(exc))
    with open_service(data_dir, seed=not no_seeds, store_url=store_url) as service:
        result = service.ask(question, top_k=top_k, where=spec)
    if as_json:
        typer.echo(json.dumps(asdict(result), ensure_ascii=False, indent=2))
        return
    if result.abstained:
        typer.echo(f"The documents don't answer this (confidence {result.confidence:.2f}).")
        if result.answers:
            typer.echo("Related, not an answer:")
        for i, a in enumerate(result.answers, 1):
            c = a.citation
            typer.echo(f"[{i}] {a.text}\n    {_where(c)} ({c.doc_id}, chars {c.start}-{c.end})")
        return
    if result.band == "possible":
        typer.echo("Possible answer (check it against the source):")
    typer.echo(result.answer)
    if result.answers[0].follows:  # the code sample the quote introduces ("To rename ...:")
        typer.echo(textwrap.indent(result.answers[0].follows, "    "))
    typer.echo(f"  confidence {result.confidence:.2f} ({result.band})")
    for i, a in enumerate(result.answers, 1):
        c = a.citation
        typer.echo(f"[{i}] {a.score:.2f} {_where(c)} ({c.doc_id}, chars {c.start}-{c.end})")
        if i > 1:
            typer.echo(f"    {a.text}")


def _where(citation: Citation) -> str:
    """A citation's title and, when the document has structure, the section the quote is in
    and its page or slide."""
    place = location_label(citation.location)
    return SECTION_SEPARATOR.join([citation.title, *citation.section]) + \
        (f", {place}" if place else "")


@app.command(help=f"Add or update documents ({' '.join(SUPPORTED_SUFFIXES)}); unchanged ones "
                  "are skipped.")
def add(paths: Annotated[list[Path], typer.Argument(help="Files or folders to index.")],
        collection: Collection = None, tags: Tags = None, fields: Fields = None,
        data_dir: DataDir = None, store_url: StoreUrl = None, dask: Dask = None) -> None:
    """Index files and folders the way uploads are, for operators working on the server."""
    try:
        metadata = make_metadata(collection, tags, parse_pairs(fields or []))
    except MetadataError as exc:
        fail(str(exc))
    with open_service(data_dir, store_url=store_url) as service, _cluster(dask, service) as encode:
        with _document_progress() as (steps, texts):
            report = service.add_paths(paths, texts, encode, steps, metadata)
    for skipped in report.skipped + report.failed:
        typer.echo(f"skipped {skipped}", err=True)
    for renamed in report.renamed:
        typer.echo(renamed, err=True)
    typer.echo(f"documents: added {len(report.added)}, updated {len(report.updated)}, "
               f"unchanged {len(report.unchanged)}, failed {len(report.failed)} "
               f"({report.sentences_embedded:,} sentences embedded)")
    if report.failed:
        fail(f"{len(report.failed)} file(s) could not be read (listed above); the rest is indexed")


@app.command()
def sync(folder: Annotated[Path, typer.Argument(help="The folder to mirror.")],
         watch: Annotated[bool, typer.Option(
             "--watch", help="Keep following the folder until Ctrl-C.")] = False,
         collection: Collection = None, tags: Tags = None, fields: Fields = None,
         data_dir: DataDir = None, store_url: StoreUrl = None) -> None:
    """Mirror a folder: new and changed files indexed, deleted ones removed, unchanged skipped."""
    from qa.app.sync import FolderSync

    try:
        metadata = make_metadata(collection, tags, parse_pairs(fields or []))
    except MetadataError as exc:
        fail(str(exc))
    with open_service(data_dir, store_url=store_url) as service:
        mirror = FolderSync(service, folder, metadata)
        failed = _sync_once(mirror)
        if watch:
            typer.echo(f"watching {folder} (Ctrl-C to stop)", err=True)
            with suppress(KeyboardInterrupt):
                mirror.follow(lambda: _sync_once(mirror, keep_going=True))
            typer.echo("stopped watching", err=True)
            return
    if failed:
        fail(f"{failed} file(s) could not be read (listed above); the rest is in step")


def _sync_once(mirror: FolderSync, keep_going: bool = False) -> int:
    """One pass with a progress bar and a summary; counts the files that could not be read
    (`keep_going`: a pass that fails is reported, and the folder still followed)."""
    try:
        with _document_progress() as (steps, texts):
            report = mirror.run(texts, steps)
    except DocumentError as exc:
        if not keep_going:
            raise
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        return 1
    for failure in report.failed:
        typer.echo(f"skipped {failure}", err=True)
    typer.echo(report.summary())
    return len(report.failed)


@app.command()
def remove(doc_ids: Annotated[list[str], typer.Argument(help="Ids of the documents to remove.")],
           data_dir: DataDir = None, store_url: StoreUrl = None) -> None:
    """Remove documents and their vectors from the index."""
    missing = []
    with open_service(data_dir, store_url=store_url, existing=True) as service:
        for doc_id in doc_ids:
            if service.remove(doc_id):
                typer.echo(f"removed {doc_id}")
            else:
                missing.append(doc_id)
    if missing:
        fail(f"no such document: {', '.join(missing)}")


@app.command()
def documents(data_dir: DataDir = None,
              as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
              collection: Collection = None, store_url: StoreUrl = None) -> None:
    """List the indexed documents (of one collection), with their collection and tags."""
    with open_service(data_dir, store_url=store_url, existing=True) as service:
        rows = [r for r in service.list_documents()
                if collection is None or r.metadata.collection == collection]
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2))
        return
    for r in rows:
        tags = f" [{', '.join(r.metadata.tags)}]" if r.metadata.tags else ""
        typer.echo(f"{r.doc_id}\t{r.metadata.collection}{tags}\t{r.sentences} sentences\t"
                   f"{r.title}")
    typer.echo(f"{len(rows)} documents")


@app.command()
def rebuild(data_dir: DataDir = None, store_url: StoreUrl = None, dask: Dask = None) -> None:
    """Re-chunk and re-embed every document (after a model or chunking change)."""
    with open_service(data_dir, store_url=store_url, existing=True) as service, \
            _cluster(dask, service) as encode:
        with _document_progress(found=False) as (steps, texts):
            count = service.rebuild(texts, encode, steps)
    typer.echo(f"rebuilt {count} documents")


@app.command()
def vacuum(data_dir: DataDir = None, store_url: StoreUrl = None) -> None:
    """Give the disk space of deleted documents back (also automatic past half the file)."""
    with open_service(data_dir, store_url=store_url, existing=True) as service:
        before = service.store.disk_bytes()
        freed = service.reclaim()
    typer.echo(f"freed {freed / 1e6:.1f} MB ({before / 1e6:.1f} MB -> "
               f"{(before - freed) / 1e6:.1f} MB)")


@app.command("eval")
def evaluate(path: Annotated[Path, typer.Argument(help="JSONL question set or SQuAD v1.1/v2.0 JSON.")],
             as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
             data_dir: DataDir = None,
             index_dir: Annotated[Path | None, typer.Option(
                 "--index-dir", help="For SQuAD: keep its index here to reuse across runs "
                                     "(default: a temporary folder).")] = None) -> None:
    """Measure answer quality: P@1, MRR@10, R@5, abstention, calibration (ECE), latency."""
    import tempfile

    from tqdm import tqdm

    from qa.app import evaluation

    if not path.is_file():
        fail(f"{path}: no such file")
    squad = evaluation.is_squad_file(path)
    try:
        if squad:
            docs, questions = evaluation.load_squad(path)
        else:
            questions = evaluation.load_jsonl(path)
    except (ValueError, KeyError, TypeError) as exc:
        fail(f"{path}: {exc}")
    with tempfile.TemporaryDirectory(prefix="verbatim-eval-") as tmp:
        target = (index_dir or Path(tmp)) if squad else data_dir
        with open_service(target, seed=not squad) as service:
            if squad:
                with _progress("Indexing SQuAD") as progress:
                    service.add_documents(docs, progress)
            with tqdm(total=len(questions), desc="Asking", unit="q", file=sys.stderr) as bar:
                metrics = evaluation.evaluate(service, questions, bar.update)
    metrics = {"file": str(path), "kind": "squad" if squad else "jsonl", **metrics}
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
        return
    for key, value in metrics.items():
        typer.echo(f"{key:24} {value}")


def main() -> None:
    """Run the CLI."""
    app()


if __name__ == "__main__":
    main()


"""What the tests and the benchmarks share: a real `qa serve` on a free loopback port, synthetic
documents (each names a courier no other mentions) and hand-made PDFs, honest and hostile."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from qa.storage.local_postgres import free_port

ROOT = Path(__file__).resolve().parent.parent


def provenance(command: str) -> str:
    """The line a results file opens with, so every figure names its command, commit and machine."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changed = [line for line in git("status", "--porcelain").splitlines()
               if not line[3:].startswith("bench/results/")]
    at = f"commit {commit}" + (" with uncommitted changes" if changed else "")
    return (f"Command: `{command}`, at {at}; {os.cpu_count()} cores, "
            f"Python {sys.version.split()[0]}.")


def start_server(data_dir: Path, *args: str, timeout: float = 120.0,
                 env: dict[str, str] | None = None) -> tuple[str, subprocess.Popen]:
    """Start `qa serve --data-dir data_dir ARGS` and wait until /healthz answers."""
    port = free_port()
    log_path = Path(data_dir) / "server.log"
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port),
                                 "--data-dir", str(data_dir), *args],
                                cwd=ROOT, stdout=log, stderr=log, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"qa serve exited: {log_path.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"qa serve did not start in {timeout:.0f} s")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            time.sleep(0.2)


def run_qa(*args: str, env: dict[str, str] | None = None, timeout: float = 120.0
           ) -> subprocess.CompletedProcess:
    """Run a `qa` command as a user would, in a process of its own, capturing its output."""
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def stop_server(proc: subprocess.Popen, timeout: float = 60.0) -> int:
    """Ask the server to stop (SIGTERM), as an operator would, and return its exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@contextmanager
def running_server(data_dir: Path, *args: str, timeout: float = 120.0,
                   env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run `qa serve` for the duration of a block."""
    url, proc = start_server(data_dir, *args, timeout=timeout, env=env)
    try:
        yield url, proc
    finally:
        stop_server(proc)


PLACES = ["harbour", "depot", "orchard", "quarry", "lighthouse", "mill", "ferry", "archive"]


def make_doc(key: str, sentences: int = 30) -> dict:
    """A document with a unique courier name, so a question can find exactly it."""
    rng = random.Random(key)
    lines = [f"Courier {key.upper()} carried parcels across the valley."]
    for n in range(sentences - 1):
        place, other = rng.sample(PLACES, 2)
        lines.append(f"On day {n + 1} the courier took {rng.randint(2, 90)} parcels from the "
                     f"{place} to the {other} before noon.")
    return {"doc_id": key, "title": f"Courier {key}", "text": " ".join(lines)}


def pdf_with_text(text: str, title: str = "") -> bytes:
    """Write a minimal one-page PDF with a line of text (and optionally a metadata title)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    if title:
        objects.append(f"<< /Title ({title}) >>".encode())
    return pdf_file(objects, info=len(objects) if title else None)


def pdf_with_pages(pages: list[list[str]], title: str = "") -> bytes:
    """Write a PDF whose pages hold the given lines, top to bottom, as a word processor sets
    them: a paragraph wrapped over several lines, headers and footers on every page."""
    def escaped(line: str) -> str:
        return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    count = len(pages)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
                   b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(count)), count),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for lines in pages:
        body = "BT /F1 11 Tf 72 740 Td 14 TL " + " ".join(f"({escaped(x)}) '" for x in lines) + \
            " ET"
        stream = body.encode("latin-1")
        page_id = len(objects) + 1
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 3 0 R >> >> >>" % (page_id + 1))
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    if title:
        objects.append(f"<< /Title ({title}) >>".encode())
    return pdf_file(objects, info=len(objects) if title else None)


def pdf_file(objects: list[bytes], info: int | None = None) -> bytes:
    """Lay numbered objects out as a PDF file (object 1 the catalog) with its xref table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    trailer_info = b" /Info %d 0 R" % info if info else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, trailer_info, xref)
    return bytes(out)


def pdf_bomb(pages: int, chars_per_page: int) -> bytes:
    """A small PDF whose pages all draw one compressed content stream: tiny on disk, huge
    once its text is extracted."""
    line = b"(" + b"x" * 99 + b") Tj T* "
    stream = zlib.compress(b"BT /F1 12 Tf 14 TL " + line * (chars_per_page // 100) + b"ET", 9)
    kids = " ".join(f"{5 + i} 0 R" for i in range(pages)).encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream +
               b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R "
                b"/Resources << /Font << /F1 4 0 R >> >> >>"] * pages
    return pdf_file(objects)

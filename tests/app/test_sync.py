"""`qa sync`: the index mirrors a folder through adds, edits and deletes."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from bench.harness import ROOT
from qa.storage.sqlite import DB_NAME


def stored(data_dir: Path) -> dict[str, str]:
    """The documents a data dir holds: doc_id -> text (read-only, beside a running writer)."""
    path = data_dir / DB_NAME
    if not path.exists():
        return {}
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
        try:
            return dict(conn.execute("SELECT doc_id, text FROM documents"))
        except sqlite3.OperationalError:  # created a moment ago, the tables not yet
            return {}


def test_sync_mirrors_adds_edits_and_deletes_and_leaves_other_documents_alone(
        cli, tmp_path):
    data = tmp_path / "data"
    other = tmp_path / "other"
    other.mkdir()
    (other / "kept.txt").write_text("The archive keeps letters from the old mill.")
    assert cli("add", str(other)).exit_code == 0
    folder = tmp_path / "notes"
    (folder / "2024").mkdir(parents=True)
    (folder / "ferry.txt").write_text("The ferry leaves the harbour at seven.")
    (folder / "2024" / "orchard.md").write_text("# Orchard\n\nThe pickers filled forty crates.")
    r = cli("sync", str(folder))
    assert r.exit_code == 0 and "added 2, updated 0, removed 0, unchanged 0" in r.output, r.output
    assert set(stored(data)) == {"kept", "ferry", "2024-orchard"}

    r = cli("sync", str(folder))
    assert "added 0, updated 0, removed 0, unchanged 2" in r.output, r.output

    (folder / "ferry.txt").write_text("The ferry leaves the harbour at nine since March.")
    (folder / "2024" / "orchard.md").unlink()
    (folder / "quarry.txt").write_text("The quarry closed in the winter of 1910.")
    r = cli("sync", str(folder))
    assert "added 1, updated 1, removed 1, unchanged 0" in r.output, r.output
    docs = stored(data)
    assert set(docs) == {"kept", "ferry", "quarry"}  # the other folder's document stays
    assert "nine since March" in docs["ferry"]
    r = cli("ask", "When does the ferry leave?", "--json", "--no-seeds")
    assert "nine" in json.loads(r.stdout)["answers"][0]["text"]


def test_a_file_that_cannot_be_read_is_named_and_the_rest_still_synced(cli, tmp_path):
    data = tmp_path / "data"
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "good.txt").write_text("The lighthouse keeper lit the lamp at dusk.")
    (folder / "later.txt").write_text("The depot opened its doors on Monday.")
    assert cli("sync", str(folder)).exit_code == 0
    (folder / "later.txt").write_bytes(b"\x00\x01\x02\x03binary junk" * 50)
    (folder / "broken.pdf").write_bytes(b"not a pdf at all")
    (folder / "new.txt").write_text("The orchard was planted in 1902.")
    r = cli("sync", str(folder))
    assert r.exit_code == 1, r.output
    assert "broken.pdf" in r.output and "later.txt" in r.output
    assert "could not be read" in r.output
    docs = stored(data)
    # A file that turned unreadable keeps its last good version rather than vanishing.
    assert set(docs) == {"good", "later", "new"} and "Monday" in docs["later"]
    r = cli("sync", str(tmp_path / "missing"))
    assert r.exit_code == 1 and "no such folder" in r.output


def wait_for(condition, timeout: float = 60.0) -> bool:
    """Poll until a condition holds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.3)
    return False


@pytest.mark.slow
def test_watch_follows_the_folder_until_interrupted(tmp_path):
    data, folder = tmp_path / "data", tmp_path / "watched"
    folder.mkdir()
    (folder / "first.txt").write_text("The first courier crossed the valley on Monday.")
    # Ctrl-C as at a terminal, even when the suite runs as a background job (a shell's `&`
    # starts it with SIGINT ignored, and a child would inherit that).
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "sync", str(folder), "--watch",
                             "--data-dir", str(data)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert wait_for(lambda: set(stored(data)) == {"first"}, 120)
        (folder / "second.md").write_text("# Second\n\nThe second courier rested at the mill.")
        assert wait_for(lambda: set(stored(data)) == {"first", "second"})
        (folder / "first.txt").write_text("The first courier crossed the valley on Friday.")
        assert wait_for(lambda: "Friday" in stored(data).get("first", ""))
        (folder / "second.md").unlink()
        assert wait_for(lambda: set(stored(data)) == {"first"})
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, output
    assert "stopped watching" in output and "Traceback" not in output

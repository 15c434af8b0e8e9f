"""The `qa` command line."""

from __future__ import annotations

import json

import pytest


def test_add_documents_ask_remove(cli, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Alpha\n\nThe launch happened at Baikonur on Thursday.")
    (folder / "b.md").write_text("# Beta\n\nThe mascot was a polar bear in a blue scarf.")
    r = cli("add", str(folder))
    assert r.exit_code == 0, r.output
    assert "added 2" in r.output
    r = cli("add", str(folder))
    assert "unchanged 2" in r.output
    r = cli("documents")
    assert "a\t" in r.output and "b\t" in r.output and "2 documents" in r.output
    r = cli("ask", "What was the mascot?", "--json", "--no-seeds")
    body = json.loads(r.stdout)
    assert body["answers"][0]["citation"]["doc_id"] == "b"
    r = cli("remove", "b")
    assert r.exit_code == 0 and "removed b" in r.output
    r = cli("remove", "b")
    assert r.exit_code == 1 and "no such document" in r.output
    r = cli("rebuild")
    assert r.exit_code == 0 and "rebuilt 1" in r.output


def test_ask_prints_the_code_sample_a_quote_introduces(cli, tmp_path):
    guide = tmp_path / "pump.md"
    guide.write_text("# Pump manual\n\nTo drain the bilge pump:\n\n```\npumpctl drain --bilge\n"
                     "```\n\nThe pump stops by itself when the bilge is dry.\n")
    assert cli("add", str(guide)).exit_code == 0
    r = cli("ask", "How do I drain the bilge pump?", "--no-seeds")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    at = lines.index("To drain the bilge pump:")
    assert lines[at + 1] == "    pumpctl drain --bilge"


@pytest.mark.slow
def test_ask_seeds_the_index_on_first_use(cli):
    r = cli("ask", "How many cities will the relay stop in?")
    assert r.exit_code == 0, r.output
    assert "130 different cities" in r.stdout


def test_errors_are_messages_not_tracebacks(cli, tmp_path):
    r = cli("add", str(tmp_path / "missing.txt"))
    assert r.exit_code == 1 and "no such file" in r.output and "Traceback" not in r.output
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"not a pdf at all")
    r = cli("add", str(bad))
    assert r.exit_code == 1 and "bad.pdf" in r.output
    r = cli("ask", "  ")
    assert r.exit_code == 1 and "empty" in r.output


def test_files_of_the_same_name_in_different_folders_stay_two_documents(cli, tmp_path):
    folder = tmp_path / "notes"
    for year, place in (("2023", "Baikonur"), ("2024", "Sochi")):
        (folder / year).mkdir(parents=True)
        (folder / year / "summary.md").write_text(f"# {year}\n\nThe launch was at {place}.")
    (folder / "summary.md").write_text("# Top\n\nThe top summary mentions the torch.")
    r = cli("add", str(folder))
    assert r.exit_code == 0 and "added 3" in r.output, r.output
    r = cli("documents", "--json")
    assert sorted(d["doc_id"] for d in json.loads(r.stdout)) == \
        ["2023-summary", "2024-summary", "summary"]


def test_two_files_that_would_share_an_id_both_get_in_under_stable_ids(cli, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "notes.txt").write_text("Plain notes about the launch.")
    (folder / "notes.html").write_text("<p>HTML notes about the relay.</p>")
    r = cli("add", str(folder))
    assert r.exit_code == 0 and "added 2" in r.output, r.output
    assert "notes.txt is stored as 'notes-" in r.output  # the summary says which, and as what
    ids = sorted(d["doc_id"] for d in json.loads(cli("documents", "--json").stdout))
    assert ids[0] == "notes" and ids[1].startswith("notes-")
    again = cli("add", str(folder))
    assert "unchanged 2" in again.output  # the same ids the next time: nothing re-added
    assert sorted(d["doc_id"] for d in json.loads(cli("documents", "--json").stdout)) == ids


def test_a_folder_goes_in_whole_and_names_the_files_it_could_not_read(cli, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text("The keeper lit the lamp at dusk every evening.")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    (folder / "menu.txt").write_text("ab\n" * 5_000)  # refused by the chunker, after reading
    r = cli("add", str(folder))
    assert r.exit_code == 1, r.output
    assert "broken.pdf" in r.output and "menu.txt" in r.output and "very short lines" in r.output
    assert "added 1" in r.output and "failed 2" in r.output
    docs = json.loads(cli("documents", "--json").stdout)
    assert [d["doc_id"] for d in docs] == ["good"]


def test_links_leaving_the_folder_are_not_followed(cli, tmp_path):
    secret = tmp_path / "credentials.txt"
    secret.write_text("The password is hunter2.")
    folder = tmp_path / "docs"
    (folder / "inner").mkdir(parents=True)
    (folder / "inner" / "real.txt").write_text("The torch went to space.")
    (folder / "leak.txt").symlink_to(secret)
    (folder / "alias.txt").symlink_to(folder / "inner" / "real.txt")  # stays inside: fine
    r = cli("add", str(folder))
    assert r.exit_code == 0 and "added 2" in r.output, r.output
    assert "skipped" in r.output and "leak.txt" in r.output
    docs = json.loads(cli("documents", "--json").stdout)
    assert sorted(d["doc_id"] for d in docs) == ["alias", "inner-real"]


def test_a_too_long_question_is_refused_as_the_api_refuses_it(cli):
    r = cli("ask", "why " * 1500)
    assert r.exit_code == 1 and "at most 2,000 characters" in r.output


def test_a_mistyped_data_dir_is_an_error_not_a_new_empty_index(embedder, tmp_path):
    from typer.testing import CliRunner

    from api.cli import app

    typo = tmp_path / "dataa"
    for command in ("documents", "remove", "vacuum"):
        args = [command, "x"] if command == "remove" else [command]
        r = CliRunner().invoke(app, [*args, "--data-dir", str(typo)])
        assert r.exit_code == 1 and f"no index at {typo}" in r.output, r.output
    assert not typo.exists()


@pytest.mark.slow
def test_command_line_mistakes_get_one_line_and_status_1(tmp_path):
    from bench.harness import run_qa

    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really a pdf")
    for args, said in ((["remove"], "Missing argument"), (["ask", "x", "--top-k", "50"], "--top-k"),
                       (["bogus"], "No such command")):
        done = run_qa(*args)
        assert done.returncode == 1, done
        lines = [x for x in done.stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and said in lines[0], lines
    done = run_qa("add", str(broken), "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 1 and "broken.pdf" in done.stderr
    assert "EOF marker" not in done.stderr  # the PDF library's own chatter stays out


@pytest.mark.slow
def test_an_add_killed_midway_resumes_without_embedding_again_what_it_committed(tmp_path):
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    from bench.harness import ROOT, make_doc, run_qa
    from qa.reading.chunking import chunk_text

    folder, data = tmp_path / "docs", tmp_path / "data"
    folder.mkdir()
    for n in range(24):
        doc = make_doc(f"courier{n:02d}", 30)
        (folder / f"{doc['doc_id']}.txt").write_text(doc["text"])
    env = {**os.environ, "VERBATIM_ADD_BATCH_CHARS": "4000"}  # about two documents a batch
    add = subprocess.Popen([sys.executable, "-m", "api.cli", "add", str(folder), "--data-dir",
                            str(data)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    database = data / "verbatim.sqlite3"
    committed = 0
    deadline = time.monotonic() + 120
    while committed < 4 and add.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        if database.exists():
            with sqlite3.connect(database) as conn:
                try:
                    committed = conn.execute("SELECT count(*) FROM documents").fetchone()[0]
                except sqlite3.OperationalError:  # the file is there, its tables not yet
                    committed = 0
    assert add.poll() is None, "the add finished before it could be killed"
    os.kill(add.pid, signal.SIGKILL)
    add.wait()
    with sqlite3.connect(database) as conn:  # every document there is whole: no half batch
        kept = conn.execute("SELECT doc_id, text FROM documents").fetchall()
        for doc_id, text in kept:
            rows = conn.execute("SELECT count(*) FROM sentences WHERE doc_id = ?",
                                (doc_id,)).fetchone()[0]
            assert rows == len(chunk_text(text).sentences), doc_id
    assert 4 <= len(kept) < 24
    again = run_qa("add", str(folder), "--data-dir", str(data), env=env, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"added {24 - len(kept)}, updated 0, unchanged {len(kept)}" in again.stdout
    embedded = int(again.stdout.split("(")[1].split(" sentences")[0].replace(",", ""))
    assert embedded == 30 * (24 - len(kept))  # only what the killed run had not committed


def test_documents_are_filed_in_collections_and_questions_kept_to_them(cli, tmp_path):
    hr, ops = tmp_path / "hr", tmp_path / "ops"
    hr.mkdir()
    ops.mkdir()
    (hr / "leave.txt").write_text("Holidays\n\nEvery employee gets twenty-five days of leave a year.")
    (ops / "backup.txt").write_text("Backups\n\nThe backup of the file server takes four hours.")
    assert cli("add", str(hr), "--collection", "handbook", "--tag", "hr",
               "--meta", "year=2024").exit_code == 0
    assert cli("sync", str(ops), "--collection", "ops").exit_code == 0
    listed = cli("documents", "--collection", "handbook").output
    assert "leave\thandbook [hr]" in listed and "backup" not in listed
    body = json.loads(cli("ask", "How long does the backup take?", "--json", "--no-seeds",
                          "--collection", "handbook").stdout)
    assert {a["citation"]["doc_id"] for a in body["answers"]} == {"leave"}
    body = json.loads(cli("ask", "How long does it take?", "--json", "--no-seeds",
                          "--filter", '{"year": {"gte": 2024}}').stdout)
    assert {a["citation"]["doc_id"] for a in body["answers"]} == {"leave"}
    typo = cli("ask", "How long?", "--no-seeds", "--collection", "handbok")
    assert typo.exit_code == 1 and "no collection 'handbok'; collections: handbook, ops" in \
        typo.output
    bad = cli("add", str(hr), "--meta", "year")
    assert bad.exit_code == 1 and "write a field as key=value" in bad.output
    # The same folder synced into another collection moves its documents there.
    assert "updated 1" in cli("sync", str(ops), "--collection", "archive").output
    assert "backup\tarchive" in cli("documents").output

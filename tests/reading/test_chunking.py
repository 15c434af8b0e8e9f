"""The chunker: offsets that slice back exactly, scrape furniture never quotable, passages overlap."""

from __future__ import annotations

import pytest

from qa.config import DEFAULT_SEEDS_DIR
from qa.reading.chunking import chunk_text, is_quotable

SEEDS = sorted(DEFAULT_SEEDS_DIR.glob("*.txt"))


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_sentence_offsets_slice_back_to_the_sentence(path):
    text = path.read_text()
    chunks = chunk_text(text)
    assert chunks.sentences
    for s in chunks.sentences:
        assert text[s.start:s.end] == s.text
        assert s.text == s.text.strip()


def test_unicode_offsets_are_character_offsets():
    text = "Привет мир — это тест. The torch’s flame 😀 was unlit in orbit. Ünïcödé ends here."
    chunks = chunk_text(text)
    assert [text[s.start:s.end] for s in chunks.sentences] == [s.text for s in chunks.sentences]
    assert any("unlit" in s.text for s in chunks.sentences)


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_scrape_boilerplate_is_never_an_answer_candidate(path):
    for s in chunk_text(path.read_text()).sentences:
        if s.quotable:
            assert "Open Image Modal" not in s.text
            assert "(credit:" not in s.text
            assert not s.text.startswith("•")
            assert " of19)" not in s.text


@pytest.mark.parametrize("line", ["Open Image Modal", "(credit:AP)", "(credit:Getty Images)",
                                  "  • Astro", "(05 of19)", "Story continues after slideshow...",
                                  "AFP PHOTO/POOL/SHAMIL ZHUMATOV", "(Via NASA)", "NASA TV"])
def test_furniture_lines_are_not_quotable(line):
    assert not is_quotable(line.strip(), alone_on_line=True)


def test_trailing_photo_credit_is_cut_from_the_quote():
    text = "The torch will be brought back along with the station's current crew. (credit:AP)"
    (sentence,) = [s for s in chunk_text(text).sentences if s.quotable]
    assert sentence.text.endswith("current crew.")


def test_passages_cover_every_sentence_and_overlap():
    text = " ".join(f"Sentence number {i} talks about the torch." for i in range(20))
    chunks = chunk_text(text, size=4, overlap=1)
    covered = set()
    for p in chunks.passages:
        assert p.last - p.first + 1 <= 4
        covered.update(range(p.first, p.last + 1))
    assert covered == set(range(len(chunks.sentences)))
    for a, b in zip(chunks.passages, chunks.passages[1:]):
        assert b.first == a.last  # one sentence of overlap
    for i, home in enumerate(chunks.home_passage):
        p = chunks.passages[home]
        assert p.first <= i <= p.last


def test_long_sentences_still_make_passages():
    text = " ".join(["word"] * 2000) + "."
    chunks = chunk_text(text, max_chars=300)
    assert len(chunks.passages) == 1
    assert chunks.passages[0].start == 0


def test_reader_comments_are_told_apart_from_the_article():
    page = ("Launch day\n\nThe rocket left the pad at dawn with three crew aboard.\n\n"
            "  • skywatcher42\n\n    I think the rocket left the pad far too early that day.\n\n"
            "    It was still dark where I live, honestly.\n\n"
            "  • Jane Doe\n\n    Great photos of the launch from the press site.\n")
    sentences = [s for s in chunk_text(page).sentences if s.quotable]
    by_text = {s.text: s.comment for s in sentences}
    assert by_text["The rocket left the pad at dawn with three crew aboard."] is False
    assert by_text["I think the rocket left the pad far too early that day."] is True
    assert by_text["It was still dark where I live, honestly."] is True
    assert by_text["Great photos of the launch from the press site."] is True


def test_the_seed_page_with_comments_keeps_its_article_uncommented():
    page = next(p for p in SEEDS if "lidocaineus" in p.read_text())
    sentences = [s for s in chunk_text(page.read_text()).sentences if s.quotable]
    article = [s for s in sentences if "Expedition 37 crew will bring the torch" in s.text]
    comments = [s for s in sentences if "reusable spacecraft made of three modules" in s.text]
    assert article and not article[0].comment
    assert comments and comments[0].comment


def test_a_question_the_page_asks_is_not_quotable_but_a_reported_one_is():
    assert not is_quotable("But why tell you all this when you can see it for yourself?", False)
    assert not is_quotable('"Can you get a little bit higher?"', False)
    reported = ('In this video you can hear the cosmonauts giving directions for picture-perfect '
                'shots: "Can you get a little bit higher?')
    assert is_quotable(reported, False)


def test_a_sentence_that_opens_with_a_lower_case_name_is_a_sentence_of_its_own():
    text = ("It does this by calling pg_dump for each database in the cluster. pg_dumpall also "
            "dumps global objects, e.g. roles and tablespaces, etc. and the U.S. users. "
            "Run BEGIN ... COMMIT blocks as usual.")
    quoted = [s.text for s in chunk_text(text).sentences]
    assert quoted[0] == "It does this by calling pg_dump for each database in the cluster."
    assert quoted[1] == ("pg_dumpall also dumps global objects, e.g. roles and tablespaces, etc. "
                         "and the U.S. users.")

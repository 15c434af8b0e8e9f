"""The chat page in a real browser (Debian's Chromium driven by Playwright) against `qa serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.harness import running_server

pytestmark = pytest.mark.browser
playwright_sync = pytest.importorskip("playwright.sync_api")
# Waits go through locators: a string for `wait_for_function` is evaluated with eval(), which
# the page's Content-Security-Policy forbids, as it should.
expect = playwright_sync.expect
expect.set_options(timeout=30_000)

CHROMIUM = os.environ.get("VERBATIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
HOSTILE = ('The payload <script>window.__pwned = 1</script> and <img src=x '
           'onerror="window.__pwned = 2"> sit in this sentence about the zebra mascot.')


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `qa serve` process holding the seeds, on a free loopback port."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with running_server(tmp_path_factory.mktemp("browser-data")) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium for the module."""
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, server) -> Iterator[object]:
    """A fresh page (empty localStorage) on the chat page."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.goto(server)
    yield pg
    context.close()


def ask(page, question: str) -> object:
    """Type a question, press Enter, and wait for its answer block."""
    before = page.locator(".turn-answer").count()
    page.get_by_label("Your question").fill(question)
    page.get_by_label("Your question").press("Enter")
    page.locator(".turn-answer").nth(before).wait_for()
    return page.locator(".turn-answer").nth(before)


def test_ask_shows_the_quote_its_confidence_and_citations(page):
    answer = ask(page, "How many miles will the torch relay cover?")
    assert "39,000 miles" in answer.locator("blockquote").inner_text()
    assert "confidence" in answer.locator(".answer-confidence").inner_text()
    first = answer.locator("button.citation").first
    assert first.inner_text().startswith("[1] ")
    assert page.locator(".turn-user").last.inner_text() == "How many miles will the torch relay cover?"
    assert page.get_by_label("Your question").input_value() == ""


def test_citation_opens_the_source_with_the_quote_marked(page):
    answer = ask(page, "How many miles will the torch relay cover?")
    quote = answer.locator("blockquote").inner_text()
    answer.locator("button.citation").first.click()
    panel = page.locator("#source")
    panel.wait_for(state="visible")
    assert panel.locator("#source-text mark").inner_text() == quote
    assert panel.locator("#source-passage mark").inner_text() == quote
    assert panel.locator("#source-title").inner_text().strip()
    box = panel.locator("#source-text mark").bounding_box()
    assert box is not None and box["height"] > 0


def test_alternatives_expand_with_their_sources(page):
    answer = ask(page, "When did the crew launch to the space station?")
    details = answer.locator("details.alternatives")
    details.locator("summary").click()
    items = details.locator("li")
    assert items.count() >= 1
    assert items.first.locator("button.citation").count() >= 1


def test_follow_up_sends_the_conversation(page):
    ask(page, "Who will bring the torch back to Earth?")
    with page.expect_request("**/v1/chat") as request:
        answer = ask(page, "What will he do with it after landing?")
    sent = request.value.post_data_json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    text = answer.locator("blockquote").inner_text()
    assert "representatives of Sochi 2014" in text or "hand it over" in text


def test_abstention_is_said_plainly_with_related_passages_that_are_not_answers(page):
    answer = ask(page, "Who painted the Mona Lisa?")
    assert "don't answer" in answer.locator(".abstain").inner_text()
    assert answer.locator("blockquote").count() == 0
    related = answer.locator("details.related-passages")
    assert "Related, not an answer" in related.locator("summary").inner_text()
    related.locator("summary").click()
    first = related.locator("li").first
    quote = first.locator("q").inner_text()
    first.locator("button.citation").first.click()
    page.locator("#source").wait_for(state="visible")
    assert page.locator("#source-text mark").inner_text() == quote


def test_the_highlight_is_right_after_emoji_and_other_astral_characters(page, server):
    text = ("🚀🔥 Launch notes 𝒜𝒷𝒸 and more 🧑‍🚀 symbols. "
            "The quartermaster stored seventeen crates of lanterns in the hold.")
    r = httpx.post(f"{server}/v1/documents",
                   json={"documents": [{"doc_id": "astral", "title": "Astral 🚀", "text": text}]})
    assert r.status_code == 200, r.text
    answer = ask(page, "How many crates of lanterns did the quartermaster store?")
    quote = answer.locator("blockquote").inner_text()
    assert "seventeen crates" in quote
    answer.locator("button.citation").first.click()
    page.locator("#source").wait_for(state="visible")
    assert page.locator("#source-text mark").inner_text() == quote
    assert page.locator("#source-passage mark").inner_text() == quote


def test_a_damaged_saved_conversation_keeps_its_good_turns(page):
    ask(page, "How many cities will the relay stop in?")
    page.evaluate("""() => {
        const saved = JSON.parse(localStorage.getItem("verbatim.conversation.v1"));
        saved.turns.push({question: 5, reply: null, answer: {answers: "x"}}, null,
                         {question: "q", reply: "r", answer: {confidence: 1, abstained: false,
                          answer: "a", answers: [{text: "a", score: 1, citation: {}}]}});
        localStorage.setItem("verbatim.conversation.v1", JSON.stringify(saved));
    }""")
    page.reload()
    page.locator(".turn-answer").first.wait_for()
    assert page.locator(".turn-answer").count() == 1
    assert "130 different cities" in page.locator(".turn-answer blockquote").first.inner_text()
    answer = ask(page, "How many miles will the torch relay cover?")  # still usable
    assert "39,000 miles" in answer.locator("blockquote").inner_text()


def test_hostile_document_renders_literally_and_runs_nothing(page, server):
    r = httpx.post(f"{server}/v1/documents", json={"documents": [{
        "doc_id": "hostile", "title": "<img src=x onerror=\"window.__pwned = 3\">", "text": HOSTILE}]})
    assert r.status_code == 200
    answer = ask(page, "What sits in the sentence about the zebra mascot?")
    assert "<script>" in answer.locator("blockquote").inner_text()
    answer.locator("button.citation").first.click()
    page.locator("#source").wait_for(state="visible")
    assert "<img src=x" in page.locator("#source-title").inner_text()
    assert "<script>window.__pwned = 1</script>" in page.locator("#source-text").inner_text()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#conversation img, #source img, #conversation script").count() == 0


def test_upload_then_ask_about_the_new_document(page, tmp_path):
    notes = tmp_path / "expedition-notes.md"
    notes.write_text("# Expedition notes\n\nThe flight surgeon packed forty kilograms of "
                     "fresh oranges for the crew.\n")
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"these random bytes are not a PDF")
    page.get_by_role("button", name="Documents").click()
    page.locator("#files").set_input_files(str(bad))
    status = page.locator("#upload-status")
    expect(status).to_contain_text("Refused")
    assert "broken.pdf" in status.inner_text()
    page.locator("#files").set_input_files(str(notes))
    expect(status).to_contain_text("Done")
    expect(page.locator("#document-list")).to_contain_text("expedition-notes")
    answer = ask(page, "What did the flight surgeon pack for the crew?")
    assert "forty kilograms of fresh oranges" in answer.locator("blockquote").inner_text()


def test_a_quote_that_introduces_a_code_sample_shows_the_sample(page, tmp_path):
    guide = tmp_path / "winch-guide.md"
    guide.write_text("# Winch manual\n\n## Resetting the winch\n\nTo reset the anchor winch "
                     "counter:\n\n```\nwinchctl reset --counter anchor\n```\n\nThe counter "
                     "then starts again from zero metres of chain.\n")
    page.get_by_role("button", name="Documents").click()
    page.locator("#files").set_input_files(str(guide))
    expect(page.locator("#upload-status")).to_contain_text("Done")
    answer = ask(page, "How do I reset the anchor winch counter?")
    assert answer.locator("blockquote").inner_text() == "To reset the anchor winch counter:"
    assert answer.locator("pre.follows").inner_text() == "winchctl reset --counter anchor"


def test_the_file_picker_takes_the_servers_formats_word_files_among_them(page, tmp_path):
    from tests.reading.test_office import word_file

    page.get_by_role("button", name="Documents").click()
    expect(page.locator("#files-label")).to_contain_text(".docx")
    assert {".pdf", ".docx", ".pptx"} <= set(page.locator("#files").get_attribute("accept")
                                              .split(","))
    log = tmp_path / "keeper-log.docx"
    log.write_bytes(word_file())
    page.locator("#files").set_input_files(str(log))
    expect(page.locator("#upload-status")).to_contain_text("Done")
    expect(page.locator("#document-list")).to_contain_text("keeper-log")
    answer = ask(page, "What did the lighthouse keeper light every night at dusk?")
    assert "lit the lamp every night" in answer.locator("blockquote").inner_text()


def test_reload_keeps_the_conversation_and_new_conversation_clears_it(page):
    ask(page, "How many cities will the relay stop in?")
    page.reload()
    page.locator(".turn-answer").first.wait_for()
    assert page.locator(".turn-user").first.inner_text() == "How many cities will the relay stop in?"
    assert "130 different cities" in page.locator(".turn-answer blockquote").first.inner_text()
    page.get_by_role("button", name="New conversation").click()
    assert page.locator(".turn-answer").count() == 0
    page.reload()
    assert page.locator(".turn-answer").count() == 0


def test_server_failure_keeps_the_question(page):
    page.route("**/v1/chat", lambda route: route.abort())
    page.get_by_label("Your question").fill("Who carried the torch?")
    page.get_by_label("Your question").press("Enter")
    status = page.locator("#status")
    status.wait_for(state="visible")
    assert "cannot be reached" in status.inner_text()
    assert page.get_by_label("Your question").input_value() == "Who carried the torch?"
    page.unroute("**/v1/chat")
    page.route("**/v1/chat", lambda route: route.fulfill(status=500, body="oops"))
    page.get_by_role("button", name="Ask").click()
    expect(status).to_contain_text("HTTP 500")
    assert page.get_by_label("Your question").input_value() == "Who carried the torch?"


def test_keyboard_only(page):
    page.keyboard.press("Tab")
    for _ in range(10):
        if page.evaluate("document.activeElement.id") == "question":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "question"
    page.keyboard.type("How many miles will the torch relay cover?")
    page.keyboard.press("Shift+Enter")
    assert page.locator(".turn-answer").count() == 0  # Shift+Enter adds a line, does not send
    page.keyboard.press("Backspace")
    page.keyboard.press("Enter")
    page.locator(".turn-answer").first.wait_for()
    citation = page.locator("button.citation").first
    citation.focus()
    page.keyboard.press("Enter")
    page.locator("#source").wait_for(state="visible")
    page.keyboard.press("Escape")
    page.locator("#source").wait_for(state="hidden")
    assert page.evaluate("document.activeElement.classList.contains('citation')")


def test_phone_width_has_no_horizontal_scroll(browser, server):
    context = browser.new_context(viewport={"width": 375, "height": 740})
    pg = context.new_page()
    pg.goto(server)
    answer = ask(pg, "How many miles will the torch relay cover?")
    answer.locator("button.citation").first.click()
    pg.locator("#source").wait_for(state="visible")
    pg.get_by_role("button", name="Documents").click()
    assert pg.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()


@pytest.mark.skipif(not os.environ.get("VERBATIM_SCREENSHOT"), reason="set to write a screenshot")
def test_write_readme_screenshot(page):
    """Write the README's screenshot (VERBATIM_SCREENSHOT=docs/screenshot.png)."""
    ask(page, "Who carried the torch on the spacewalk?")
    page.locator("button.citation").first.click()
    page.locator("#source").wait_for(state="visible")
    page.screenshot(path=os.environ["VERBATIM_SCREENSHOT"], full_page=False)
    assert os.path.getsize(os.environ["VERBATIM_SCREENSHOT"]) > 10_000


def test_a_possible_answer_looks_different_from_a_confident_one(page, server):
    confident = ask(page, "How many miles will the torch relay cover?")
    assert "Confident answer" in confident.locator(".answer-confidence").inner_text()
    assert confident.locator(".band-label").count() == 0
    # The same quote, shown as the server would show an answer of middling confidence.
    page.evaluate("""() => {
        const saved = JSON.parse(localStorage.getItem("verbatim.conversation.v1"));
        const turn = JSON.parse(JSON.stringify(saved.turns[0]));
        turn.answer.band = "possible"; turn.answer.confidence = 0.3;
        saved.turns.push(turn);
        localStorage.setItem("verbatim.conversation.v1", JSON.stringify(saved));
    }""")
    page.reload()
    possible = page.locator(".turn-answer").nth(1)
    assert "check it against the source" in possible.locator(".band-label").inner_text()
    assert "Possible answer" in possible.locator(".answer-confidence").inner_text()
    styles = [page.locator(".turn-answer").nth(i).evaluate(
        "el => getComputedStyle(el).borderStyle + getComputedStyle(el).backgroundColor")
        for i in (0, 1)]
    assert styles[0] != styles[1]


def test_a_fresh_page_is_ready_to_type_into_and_has_an_icon(page, server):
    assert page.evaluate("() => document.activeElement.id") == "question"
    assert "indexed document" in page.locator("#empty-hint").inner_text()
    assert httpx.get(f"{server}/favicon.ico").status_code == 200


def test_an_empty_index_says_how_to_add_documents(browser, tmp_path):
    with running_server(tmp_path / "empty", "--no-seeds") as (url, _):
        context = browser.new_context()
        pg = context.new_page()
        pg.goto(url)
        expect(pg.locator("#empty-hint")).to_contain_text("No documents are indexed yet")
        context.close()


def test_a_later_citation_opens_its_source_without_leaving_the_conversation(page):
    for question in ("How many miles will the torch relay cover?",
                     "Who will bring the torch back to Earth?",
                     "When did the crew launch to the space station?",
                     "How many cities will the relay stop in?"):
        answer = ask(page, question)
    answer.scroll_into_view_if_needed()
    before = page.evaluate("() => window.scrollY")
    assert before > 0
    answer.locator("button.citation").first.click()
    page.locator("#source").wait_for(state="visible")
    assert page.evaluate("() => window.scrollY") >= before * 0.8  # not thrown to the top
    box = page.locator("#source").bounding_box()
    assert box is not None and 0 <= box["y"] < 900  # the source is in sight beside it


def test_on_a_phone_documents_open_in_sight_and_closing_a_source_keeps_the_place(browser, server):
    context = browser.new_context(viewport={"width": 375, "height": 740})
    pg = context.new_page()
    pg.goto(server)
    for question in ("How many miles will the torch relay cover?",
                     "Who will bring the torch back to Earth?"):
        answer = ask(pg, question)
    pg.get_by_role("button", name="Documents").click()
    box = pg.locator("#documents").bounding_box()
    assert box is not None and -5 <= box["y"] < 740, box
    pg.get_by_role("button", name="Close the documents").click()
    citation = answer.locator("button.citation").first
    citation.click()
    pg.locator("#source").wait_for(state="visible")
    pg.get_by_role("button", name="Close the source").click()
    assert pg.evaluate("() => window.scrollY") > 0  # back at the citation, not the top
    box = citation.bounding_box()
    assert box is not None and 0 <= box["y"] < 740
    context.close()


def test_with_an_api_key_the_page_asks_for_it_and_adds_documents_with_it(browser, tmp_path):
    key = "k-3f9a2c"
    with running_server(tmp_path / "keyed", "--no-seeds", "--api-key", key) as (url, _):
        context = browser.new_context()
        pg = context.new_page()
        pg.goto(url)
        pg.get_by_role("button", name="Documents").click()
        field = pg.get_by_label("API key")
        field.wait_for()
        notes = tmp_path / "lamp.txt"
        notes.write_text("The keeper lit the harbour lamp at dusk every evening.")
        pg.locator("#files").set_input_files(str(notes))  # without the key: refused, said why
        expect(pg.locator("#upload-status")).to_contain_text("API key")
        field.fill(key)
        pg.locator("#files").set_input_files(str(notes))
        expect(pg.locator("#upload-status")).to_contain_text("added lamp")
        context.close()



def test_a_pdf_citation_shows_its_page_and_opens_the_original_there(page, server):
    from bench.harness import pdf_with_pages

    pages = [["Harbour report", "The harbour opened in spring after the winter repairs."],
             ["Budget", "Fuel cost more than planned in the second quarter."],
             ["Outlook", "A new lens for the old lighthouse will be fitted next spring."]]
    r = httpx.post(f"{server}/v1/documents",
                   files=[("files", ("harbour.pdf", pdf_with_pages(pages), "application/pdf"))])
    assert r.status_code == 200, r.text
    answer = ask(page, "When will the new lens for the old lighthouse be fitted?")
    citation = answer.locator("button.citation").first
    assert citation.inner_text().endswith(", p. 3")
    citation.click()
    page.locator("#source").wait_for(state="visible")
    link = page.get_by_role("link", name="Open the original")
    assert link.get_attribute("href").endswith("/v1/documents/harbour/original#page=3")
    with page.context.expect_page() as opened:
        link.click()
    original = opened.value
    original.wait_for_load_state()
    assert original.url.endswith("/v1/documents/harbour/original#page=3")
    fetched = httpx.get(original.url.split("#")[0])
    assert fetched.headers["content-type"] == "application/pdf"
    original.close()


def test_with_scoped_keys_the_page_reads_with_the_key_and_keeps_questions_to_a_collection(
        browser, tmp_path):
    key = "reader-key-0123456789abcdef"
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({key: {"collections": "*", "rights": ["read", "write"]}}))
    data = tmp_path / "scoped"
    for name, collection, text in (
            ("lamp", "harbour", "The keeper lit the harbour lamp at dusk every evening."),
            ("bell", "church", "The sexton rang the church bell at dusk every evening.")):
        (tmp_path / f"{name}.txt").write_text(text)
        subprocess.run([sys.executable, "-m", "api.cli", "add", str(tmp_path / f"{name}.txt"),
                        "--collection", collection, "--data-dir", str(data)], check=True,
                       capture_output=True)
    with running_server(data, "--no-seeds", "--api-keys", str(keys)) as (url, _):
        context = browser.new_context()
        pg = context.new_page()
        pg.goto(url)
        pg.get_by_role("button", name="Documents").click()
        expect(pg.locator("#upload-status")).to_contain_text("needs an API key")
        pg.get_by_label("API key").fill(key)
        pg.get_by_label("API key").press("Tab")  # the change reloads the lists with the key
        picker = pg.get_by_label("Answer from")
        expect(picker).to_be_visible()
        picker.select_option("church")
        answer = ask(pg, "Who did something at dusk every evening?")
        expect(answer).to_contain_text("church bell")
        expect(answer).not_to_contain_text("harbour lamp")
        context.close()

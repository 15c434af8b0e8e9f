"use strict";
// Verbatim's chat page. Every piece of document text, title or question is inserted with
// textContent or as a text node, never as HTML: a document holding <script> shows it literally.

const STORE_KEY = "verbatim.conversation.v1";
const MAX_SENT_MESSAGES = 20;
const $ = (id) => document.getElementById(id);
const conversation = $("conversation");
const form = $("ask");
const input = $("question");
const statusLine = $("status");
const documentCache = new Map();

const isCitation = (c) => c && typeof c === "object" && typeof c.doc_id === "string" &&
  typeof c.title === "string" && typeof c.passage === "string" &&
  ["start", "end", "passage_start"].every((k) => Number.isInteger(c[k]));
const isAnswer = (a) => a && typeof a === "object" && typeof a.text === "string" &&
  typeof a.score === "number" && isCitation(a.citation) &&
  (a.follows === undefined || typeof a.follows === "string") &&
  (a.also_in === undefined || (Array.isArray(a.also_in) && a.also_in.every(isCitation)));
const isTurn = (t) => t && typeof t === "object" && typeof t.question === "string" &&
  typeof t.reply === "string" && t.answer && typeof t.answer === "object" &&
  typeof t.answer.confidence === "number" && typeof t.answer.abstained === "boolean" &&
  (t.answer.answer === null || typeof t.answer.answer === "string") &&
  Array.isArray(t.answer.answers) && t.answer.answers.every(isAnswer);

let state = loadState();

function loadState() {
  // A saved conversation is only data: whatever damaged or hand-edited turns it holds are
  // dropped, and the rest is shown.
  try {
    const saved = JSON.parse(localStorage.getItem(STORE_KEY));
    if (saved && Array.isArray(saved.turns)) return {turns: saved.turns.filter(isTurn)};
  } catch (err) { /* a damaged entry starts a fresh conversation */ }
  return {turns: []};
}

function saveState() {
  try { localStorage.setItem(STORE_KEY, JSON.stringify(state)); } catch (err) { /* quota: keep going */ }
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function setStatus(node, message, isError = false) {
  node.textContent = message;
  node.hidden = !message;
  node.classList.toggle("error", isError);
}

// ---- the source panel ------------------------------------------------------------------
// The API key, when one was entered: a server with scoped keys needs it to read too.
function auth(headers = {}) {
  const key = ($("api-key").value || "").trim();
  return key ? {...headers, Authorization: `Bearer ${key}`} : headers;
}

async function fetchDocument(docId) {
  if (!documentCache.has(docId)) {
    const res = await fetch(`/v1/documents/${encodeURIComponent(docId)}`, {headers: auth()});
    if (!res.ok) throw new Error(res.status === 404 ? "this document was removed" : res.statusText);
    documentCache.set(docId, await res.json());
  }
  return documentCache.get(docId);
}

// The API's offsets count code points (Python's str); JavaScript strings index UTF-16 units,
// where an emoji or any character past U+FFFF takes two. Convert before slicing.
function utf16Index(text, codePoints) {
  let units = 0;
  let seen = 0;
  for (const ch of text) {
    if (seen === codePoints) break;
    units += ch.length;
    seen += 1;
  }
  return units;
}

function highlighted(text, start, end) {
  const a = utf16Index(text, start);
  const b = a + utf16Index(text.slice(a), end - start);
  const frag = document.createDocumentFragment();
  frag.append(text.slice(0, a), el("mark", {text: text.slice(a, b)}), text.slice(b));
  return frag;
}

async function showSource(citation, opener) {
  const panel = $("source");
  try {
    const doc = await fetchDocument(citation.doc_id);
    $("source-title").textContent = citationLabel({...citation, title: doc.title});
    const link = originalLink(citation, doc, doc.text.slice(utf16Index(doc.text, citation.start),
                                                             utf16Index(doc.text, citation.end)));
    $("original-row").hidden = !link;
    if (link) {
      $("open-original").href = link;
      $("source-where").textContent = placeLabel(citation.location);
    }
    const pStart = citation.passage_start;
    $("source-passage").replaceChildren(highlighted(citation.passage, citation.start - pStart,
                                                    citation.end - pStart));
    $("source-text").replaceChildren(highlighted(doc.text, citation.start, citation.end));
  } catch (err) {
    $("source-title").textContent = citationLabel(citation);
    $("original-row").hidden = true;
    $("source-passage").replaceChildren(`Could not open the source: ${err.message}`);
    $("source-text").replaceChildren();
  }
  panel.hidden = false;
  panel.dataset.opener = opener ? opener.id : "";
  panel.focus({preventScroll: true});
  const box = $("source-text");
  const mark = box.querySelector("mark");
  if (mark) box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);
  const top = panel.getBoundingClientRect().top;
  if (top < 0 || top > window.innerHeight * 0.8) panel.scrollIntoView({block: "start"});  // phones
}

function closeSource() {
  const panel = $("source");
  panel.hidden = true;
  const opener = (panel.dataset.opener && $(panel.dataset.opener)) || input;
  // Back to the citation the reader came from, where they were reading: not the page's top.
  opener.focus({preventScroll: true});
  opener.scrollIntoView({block: "center"});
}

// ---- rendering the conversation --------------------------------------------------------
let citationCounter = 0;

// Where a quote stands: the document's title, then the section (or term) it is under, and
// its page or slide in the original.
function placeLabel(location) {
  if (!location || typeof location !== "object") return "";
  if (Array.isArray(location.pages)) return `pp. ${location.pages[0]}-${location.pages[1]}`;
  if (Number.isInteger(location.page)) return `p. ${location.page}`;
  if (Number.isInteger(location.slide)) return `slide ${location.slide}${location.notes ? " (notes)" : ""}`;
  return "";
}

function citationLabel(citation) {
  const section = Array.isArray(citation.section) ? citation.section.join(" › ") : "";
  const place = placeLabel(citation.location);
  return [section ? `${citation.title} › ${section}` : citation.title, place]
    .filter(Boolean).join(", ");
}

// A text fragment (#:~:text=) that makes the browser find and mark the quote on the live page.
function textFragment(quote) {
  const enc = (s) => encodeURIComponent(s).replace(/-/g, "%2D");
  const words = quote.replace(/\s+/g, " ").trim().split(" ");
  if (words.length <= 8) return `#:~:text=${enc(words.join(" "))}`;
  return `#:~:text=${enc(words.slice(0, 4).join(" "))},${enc(words.slice(-4).join(" "))}`;
}

// The link to the quote's place in the original: a PDF at its page, a web page at the quote
// (its own address) or at the anchor above it, any other file as it was added.
function originalLink(citation, doc, quote) {
  const location = citation.location || {};
  const file = `/v1/documents/${encodeURIComponent(citation.doc_id)}/original`;
  if (doc.url) return doc.url.split("#")[0] + textFragment(quote);
  if (!doc.media_type) return null;  // sent as text: no file to open
  if (Number.isInteger(location.page)) return `${file}#page=${location.page}`;
  if (typeof location.anchor === "string" && doc.media_type.startsWith("text/html")) {
    return file + location.anchor;
  }
  return file;
}

function citationButton(number, citation) {
  const id = `cite-${++citationCounter}`;
  const label = citationLabel(citation);
  const button = el("button", {type: "button", class: "citation", id,
                               "aria-label": `Source ${number}: ${label}`},
                    `[${number}] ${label}`);
  button.addEventListener("click", () => showSource(citation, button));
  return button;
}

function citationList(answer, first) {
  const list = el("ul", {class: "citations"});
  [answer.citation, ...(answer.also_in || [])].forEach((c, i) => {
    list.append(el("li", {}, citationButton(first + i, c)));
  });
  return list;
}

function renderAnswer(result) {
  const box = el("div", {class: "turn-answer"});
  if (result.abstained || result.answer === null) {
    box.append(el("p", {class: "abstain",
                        text: "The documents don't answer this question."}));
    box.append(el("p", {class: "confidence",
                        text: `Best match confidence: ${Math.round(result.confidence * 100)}%`}));
    const related = result.answers || [];
    if (related.length) {
      // What the documents say nearest to the question: shown, but never as the answer.
      let number = 1;
      const items = el("ol", {class: "related"});
      for (const near of related) {
        items.append(el("li", {}, el("q", {text: near.text}), citationList(near, number)));
        number += 1 + (near.also_in || []).length;
      }
      box.append(el("details", {class: "related-passages"},
                    el("summary", {text: `Related, not an answer (${related.length})`}), items));
    }
    return box;
  }
  const [best, ...others] = result.answers;
  // Two kinds of answer a reader must tell apart at a glance: one the documents state with
  // confidence, and one that may answer and is to be checked against its source.
  const possible = result.band === "possible";
  box.classList.add(possible ? "band-possible" : "band-confident");
  if (possible) {
    box.append(el("p", {class: "band-label",
                        text: "Possible answer — check it against the source"}));
  }
  box.append(el("blockquote", {class: "quote", text: best.text}));
  // A quote that introduces a code sample ("To rename an existing table:") comes with it.
  if (best.follows) box.append(el("pre", {class: "follows", text: best.follows}));
  box.append(el("p", {class: "confidence answer-confidence",
                      text: `${possible ? "Possible answer" : "Confident answer"} · ` +
                            `confidence ${Math.round(result.confidence * 100)}%`}));
  box.append(citationList(best, 1));
  if (others.length) {
    let number = 2 + (best.also_in || []).length;
    const items = el("ol");
    for (const alt of others) {
      items.append(el("li", {}, el("q", {text: alt.text}),
                      el("span", {class: "confidence", text: ` (${Math.round(alt.score * 100)}%)`}),
                      citationList(alt, number)));
      number += 1 + (alt.also_in || []).length;
    }
    box.append(el("details", {class: "alternatives"},
                  el("summary", {text: `Other possible answers (${others.length})`}), items));
  }
  return box;
}

function renderTurn(turn) {
  $("empty-hint").hidden = true;
  conversation.append(el("p", {class: "turn-user", text: turn.question}));
  conversation.append(renderAnswer(turn.answer));
}

function renderAll() {
  conversation.querySelectorAll(".turn-user, .turn-answer, .loading").forEach((n) => n.remove());
  $("empty-hint").hidden = state.turns.length > 0;
  state.turns.forEach(renderTurn);
}

// ---- asking ----------------------------------------------------------------------------
function messagesFor(question) {
  const messages = [];
  for (const turn of state.turns) {
    messages.push({role: "user", content: turn.question});
    messages.push({role: "assistant", content: turn.reply});
  }
  messages.push({role: "user", content: question});
  return messages.slice(-MAX_SENT_MESSAGES);
}

async function ask(question) {
  setStatus(statusLine, "");
  const pending = el("p", {class: "turn-user", text: question});
  const loading = el("p", {class: "loading", role: "status", text: "Searching the documents"});
  $("empty-hint").hidden = true;
  conversation.append(pending, loading);
  form.setAttribute("aria-busy", "true");
  $("send").disabled = true;
  try {
    const collection = $("collection").value;
    const res = await fetch("/v1/chat", {
      method: "POST", headers: auth({"Content-Type": "application/json"}),
      body: JSON.stringify({messages: messagesFor(question), ...(collection ? {collection} : {})}),
    });
    let body = null;
    try { body = await res.json(); } catch (err) { /* not JSON: reported below */ }
    if (!res.ok || !body) {
      const detail = body && typeof body.detail === "string" ? body.detail : `HTTP ${res.status}`;
      throw new Error(detail);
    }
    pending.remove();
    loading.remove();
    const turn = {question, reply: body.message.content, answer: body.answer};
    state.turns.push(turn);
    saveState();
    renderTurn(turn);
    input.value = "";
  } catch (err) {
    pending.remove();
    loading.remove();
    $("empty-hint").hidden = state.turns.length > 0;
    const reason = err instanceof TypeError ? "the server cannot be reached" : err.message;
    setStatus(statusLine, `Could not get an answer (${reason}). Your question is still in the box: try again.`, true);
  } finally {
    form.removeAttribute("aria-busy");
    $("send").disabled = false;
    input.focus();
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const question = input.value.trim();
  if (!question) {
    setStatus(statusLine, "Type a question first.", true);
    return;
  }
  ask(question);
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

$("new-conversation").addEventListener("click", () => {
  state = {turns: []};
  saveState();
  renderAll();
  $("source").hidden = true;
  setStatus(statusLine, "");
  input.focus();
});

$("close-source").addEventListener("click", closeSource);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !$("source").hidden) closeSource();
});

// ---- documents -------------------------------------------------------------------------
const uploadStatus = $("upload-status");
const progressBar = $("upload-progress");

async function loadDocuments() {
  const list = $("document-list");
  try {
    const res = await fetch("/v1/documents", {headers: auth()});
    if (res.status === 401) {  // scoped keys: reading needs a key too
      $("key-row").hidden = false;
      $("api-key-label").textContent = "API key (this server needs it to read and to add documents)";
      throw new Error("this server needs an API key: enter it below");
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = await res.json();
    showCollections(body.collections || []);
    if (body.formats) {  // the server's one list of readable file types
      $("files").accept = body.formats.join(",");
      $("files-label").textContent = `Add documents (${body.formats.join(", ")})`;
    }
    // What adding documents takes here: nothing, the API key, or it is turned off.
    $("key-row").hidden = body.writes !== "key";
    $("writes-off").hidden = body.writes !== "off";
    $("dropzone").hidden = body.writes === "off";
    list.replaceChildren(...body.documents.map((d) =>
      el("li", {}, el("strong", {text: d.title}), ` (${d.doc_id}, ${d.sentences} sentences)`)));
    if (!body.documents.length) list.replaceChildren(el("li", {text: "No documents yet."}));
  } catch (err) {
    setStatus(uploadStatus, `Could not list the documents (${err.message}).`, true);
  }
}

function upload(files) {
  if (!files.length) return;
  const data = new FormData();
  for (const file of files) data.append("files", file, file.name);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/v1/documents");
  const key = $("api-key").value.trim();
  if (!$("key-row").hidden && key) xhr.setRequestHeader("Authorization", `Bearer ${key}`);
  progressBar.hidden = false;
  progressBar.value = 0;
  setStatus(uploadStatus, `Uploading ${files.length} file(s)…`);
  xhr.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) progressBar.value = Math.round(100 * event.loaded / event.total);
  });
  xhr.upload.addEventListener("load", () => {
    progressBar.removeAttribute("value");  // indeterminate while the server indexes
    setStatus(uploadStatus, "Indexing…");
  });
  xhr.addEventListener("load", () => {
    progressBar.hidden = true;
    let body = null;
    try { body = JSON.parse(xhr.responseText); } catch (err) { /* reported below */ }
    if (xhr.status >= 200 && xhr.status < 300 && body) {
      const parts = [];
      if (body.added.length) parts.push(`added ${body.added.join(", ")}`);
      if (body.updated.length) parts.push(`updated ${body.updated.join(", ")}`);
      if (body.unchanged.length) parts.push(`unchanged ${body.unchanged.join(", ")}`);
      setStatus(uploadStatus, `Done: ${parts.join("; ")}.`);
      body.updated.forEach((id) => documentCache.delete(id));
      loadDocuments();
    } else {
      const detail = body && body.detail ? (typeof body.detail === "string" ? body.detail
                                            : JSON.stringify(body.detail)) : `HTTP ${xhr.status}`;
      setStatus(uploadStatus, `Refused: ${detail}`, true);
      if (xhr.status === 401) $("api-key").focus();
    }
  });
  xhr.addEventListener("error", () => {
    progressBar.hidden = true;
    setStatus(uploadStatus, "Upload failed: the server cannot be reached.", true);
  });
  xhr.send(data);
}

function toggleDocuments(show) {
  const panel = $("documents");
  panel.hidden = !show;
  $("toggle-documents").setAttribute("aria-expanded", String(show));
  if (show) {
    loadDocuments();
    // On a narrow screen the panel opens below the conversation: bring it into sight.
    const top = panel.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight * 0.8) panel.scrollIntoView({block: "start"});
  }
}

// The hint above an empty conversation: what there is to ask about, or how to add documents.
async function showHint() {
  try {
    const res = await fetch("/v1/documents", {headers: auth()});
    if (!res.ok) return;
    const body = await res.json();
    const docs = body.documents || [];
    showCollections(body.collections || []);
    $("empty-hint").textContent = docs.length
      ? `Ask a question about the ${docs.length} indexed document${docs.length > 1 ? "s" : ""}, ` +
        `for example about “${docs[0].title}”.`
      : "No documents are indexed yet: open Documents to add some, then ask about them.";
  } catch (err) { /* the generic hint stays */ }
}

$("toggle-documents").addEventListener("click", () => toggleDocuments($("documents").hidden));
$("close-documents").addEventListener("click", () => {
  toggleDocuments(false);
  $("toggle-documents").focus();
});
$("files").addEventListener("change", (event) => {
  upload([...event.target.files]);
  event.target.value = "";
});
const dropzone = $("dropzone");
dropzone.addEventListener("dragover", (event) => { event.preventDefault(); dropzone.classList.add("over"); });
dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  dropzone.classList.remove("over");
  upload([...event.dataTransfer.files]);
});

// With more than one collection, the question may be kept to one of them.
function showCollections(collections) {
  const select = $("collection");
  const chosen = select.value;
  select.replaceChildren(el("option", {value: "", text: "all collections"}),
    ...collections.map((c) => el("option", {value: c, text: c})));
  select.value = collections.includes(chosen) ? chosen : "";
  $("collection-row").hidden = collections.length < 2;
}

$("api-key").value = sessionStorage.getItem("verbatim-api-key") || "";
$("api-key").addEventListener("change", () => {
  // Kept for this tab only, never stored to disk.
  sessionStorage.setItem("verbatim-api-key", $("api-key").value.trim());
  documentCache.clear();
  loadDocuments();
  showHint();
});
renderAll();
showHint();
input.focus();  // a fresh page is ready to type into

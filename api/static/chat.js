"use strict";
// Every piece of document text or user text goes through textContent, never innerHTML.
const conversation = document.getElementById("conversation");
const form = document.getElementById("ask");
const input = document.getElementById("question");
const messages = [];

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function showSource(citation) {
  const res = await fetch(`/v1/documents/${encodeURIComponent(citation.doc_id)}`);
  if (!res.ok) return;
  const doc = await res.json();
  document.getElementById("source-title").textContent = doc.title;
  const box = document.getElementById("source-text");
  box.replaceChildren(doc.text.slice(0, citation.start),
                      el("mark", "", doc.text.slice(citation.start, citation.end)),
                      doc.text.slice(citation.end));
  document.getElementById("source").hidden = false;
  box.querySelector("mark").scrollIntoView({block: "center"});
}

function render(answer) {
  const box = el("div", "answer");
  if (answer.abstained) {
    box.append(el("p", "abstain", "The documents don't answer this question."));
  } else {
    box.append(el("blockquote", "", answer.answer));
    box.append(el("p", "confidence", `Confidence ${Math.round(answer.confidence * 100)}%`));
    answer.answers.forEach((a, i) => {
      const b = el("button", "citation", `[${i + 1}] ${a.citation.title}`);
      b.type = "button";
      b.addEventListener("click", () => showSource(a.citation));
      box.append(b);
    });
  }
  conversation.append(box);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const question = input.value.trim();
  if (!question) return;
  conversation.append(el("p", "user", question));
  messages.push({role: "user", content: question});
  try {
    const res = await fetch("/v1/chat", {method: "POST", headers: {"Content-Type": "application/json"},
                                         body: JSON.stringify({messages})});
    const body = await res.json();
    if (!res.ok) throw new Error(typeof body.detail === "string" ? body.detail : res.statusText);
    messages.push(body.message);
    render(body.answer);
    input.value = "";
  } catch (err) {
    messages.pop();
    conversation.append(el("p", "error", `Something went wrong: ${err.message}`));
  }
});
input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
});
document.getElementById("close-source").addEventListener("click", () => {
  document.getElementById("source").hidden = true;
});

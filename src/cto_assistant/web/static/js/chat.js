// The chat panel: POST /api/chat and render its server-sent events as they stream in
// (tool chosen, text chunks, tables, charts, follow-ups, action confirmations).

import { csrfToken } from "../app.js";
import { renderChart } from "./charts.js";
import { clear, h, rowsOf, table } from "./ui.js";

const STORE_KEY = "cto.chat";
let panel;
let log;
let input;
let form;
let busy = false;
let state = { conversation: null, messages: [] };

function save() {
  try {
    sessionStorage.setItem(STORE_KEY, JSON.stringify({ conversation: state.conversation, messages: state.messages.slice(-30) }));
  } catch { /* storage full or disabled: history stays in memory */ }
}

function restore() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
    if (saved) state = saved;
  } catch { state = { conversation: null, messages: [] }; }
}

/** Open the panel (and focus the input). */
export function openChat() {
  panel.classList.add("is-open");
  document.body.classList.add("chat-open");
  document.querySelector("[data-chat-toggle]")?.setAttribute("aria-expanded", "true");
  input.focus();
}

function closeChat() {
  panel.classList.remove("is-open");
  document.body.classList.remove("chat-open");
  document.querySelector("[data-chat-toggle]")?.setAttribute("aria-expanded", "false");
}

/** Put a question in the input, open the panel and (by default) send it. */
export function ask(question, { send = true } = {}) {
  openChat();
  input.value = question;
  if (send) form.requestSubmit();
}

function bubble(role, ...children) {
  const el = h("div", { class: ["msg", `msg-${role}`], dataset: { role } }, ...children);
  log.append(el);
  log.scrollTop = log.scrollHeight;
  return el;
}

/** Minimal, safe Markdown: paragraphs, "- " bullets and **bold** (text nodes only). */
function markdown(text) {
  const out = [];
  let list = null;
  const inline = (line) => line.split(/(\*\*[^*]+\*\*)/).map((part) =>
    (part.startsWith("**") && part.endsWith("**") ? h("strong", {}, part.slice(2, -2)) : part));
  let rows = null;
  const flushTable = () => {
    if (!rows) return;
    const [head, ...body] = rows;
    out.push(h("div", { class: "table-wrap" }, h("table", { class: "data" },
      h("thead", {}, h("tr", {}, head.map((cell) => h("th", {}, cell)))),
      h("tbody", {}, body.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, inline(cell)))))))));
    rows = null;
  };
  for (const line of String(text).split("\n")) {
    if (/^\s*\|/.test(line)) {
      const cells = line.trim().replace(/^\||\|$/g, "").split("|").map((cell) => cell.trim());
      if (!cells.every((cell) => /^:?-{2,}:?$/.test(cell))) (rows ??= []).push(cells);
      continue;
    }
    flushTable();
    if (/^\s*[-*] /.test(line)) {
      list ??= h("ul", {});
      list.append(h("li", {}, inline(line.replace(/^\s*[-*] /, ""))));
      continue;
    }
    if (list) { out.push(list); list = null; }
    if (line.trim()) out.push(h("p", {}, inline(line)));
  }
  if (list) out.push(list);
  flushTable();
  return out;
}

function renderAnswer(el, result) {
  const body = el.querySelector("[data-answer-text]");
  const answer = result.answer ?? result.text ?? result.summary;
  if (answer) clear(body).append(...markdown(answer));
  const extra = el.querySelector("[data-answer-extra]");
  const rows = Array.isArray(result.table) ? result.table : [];
  if (rows.length && !/^\s*\|/m.test(answer || "")) extra.append(table(rows.slice(0, 50), { caption: rows.length > 50 ? `first 50 of ${rows.length}` : null }));
  const spec = result.chart;
  if (spec) {
    const holder = h("div", { class: "chat-chart" });
    extra.append(holder);
    renderChart(holder, spec);
  }
  if (result.tool) extra.append(h("p", { class: "provenance" }, "tool ", h("code", {}, result.tool), result.elapsed_ms != null ? ` · ${result.elapsed_ms} ms` : ""));
  const confirm = result.confirm ?? result.confirmation ?? (result.kind === "confirm" ? { prompt: result.answer } : null);
  if (confirm) {
    const reply = (text) => () => { extra.querySelector("[data-confirm]")?.remove(); send(text); };
    extra.append(h("div", { class: "confirm", dataset: { confirm: "" } },
      h("button", { type: "button", onclick: reply(confirm.yes ?? "yes") }, "Confirm"),
      h("button", { type: "button", class: "secondary", onclick: reply(confirm.no ?? "no") }, "Cancel")));
  }
  const followUps = result.suggestions ?? result.follow_ups ?? (Array.isArray(result.candidates) ? result.candidates : []);
  if (followUps.length) {
    extra.append(h("div", { class: "follow-ups" }, followUps.slice(0, 4).map((item) => {
      const text = typeof item === "string" ? item : item.question ?? item.label ?? item.name ?? String(item);
      return h("button", { type: "button", class: "chip", onclick: () => send(text) }, text);
    })));
  }
}

/** "create_jira_ticket" → "Create jira ticket". */
function toolWords(name) {
  const text = String(name || "an action").replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function argumentValue(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** A write action the model proposed: what it would do, and Confirm / Cancel. */
function pendingAction(action) {
  const args = Object.entries(action.arguments || {});
  const result = h("p", { class: "confirm-result", role: "status" });
  const box = h("div", { class: "confirm pending-action", role: "group", "aria-label": `Proposed action: ${toolWords(action.tool)}`, dataset: { pendingAction: action.id } },
    h("p", {}, h("strong", {}, "The assistant proposes: "), toolWords(action.tool), args.length ? " with" : "."),
    args.length ? h("dl", { class: "action-args" }, args.map(([key, value]) => [h("dt", {}, key.replace(/_/g, " ")), h("dd", {}, argumentValue(value))])) : null,
    h("p", { class: "muted small" }, "Nothing happens unless you confirm."));
  const yes = h("button", { type: "button", dataset: { confirmAction: "" } }, "Confirm");
  const no = h("button", { type: "button", class: "secondary", dataset: { cancelAction: "" } }, "Cancel");
  const settle = (text, tone) => {
    yes.remove();
    no.remove();
    result.textContent = text;
    if (tone) result.classList.add(tone);
    box.dataset.settled = "true";
  };
  yes.addEventListener("click", async () => {
    yes.disabled = true;
    no.disabled = true;
    result.textContent = "Running…";
    try {
      const response = await fetch("/api/chat/confirm", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrfToken() },
        body: JSON.stringify({ session_id: action.session_id, action_id: action.id }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(typeof body.detail === "string" ? body.detail : `The server answered ${response.status}.`);
      const failed = /error|denied|not_configured/i.test(body.status || "");
      settle(body.summary || (failed ? "The action failed." : "Done."), failed ? "error" : "tone-good");
      const rows = rowsOf(body.data);
      if (rows.length) box.append(table(rows.slice(0, 20)));
      state.messages.push({ role: "assistant", text: body.summary || "" });
      save();
    } catch (error) {
      yes.disabled = false;
      no.disabled = false;
      result.textContent = `Not done: ${error.message}`;
      result.classList.add("error");
    }
  });
  no.addEventListener("click", () => settle("Cancelled — nothing was done.", "muted"));
  box.append(h("div", { class: "confirm-buttons" }, yes, no), result);
  return box;
}

/** Parse an SSE byte stream from fetch() into {event, data} messages. */
async function* sseMessages(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
      let event = "message";
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (!data.length) continue;
      let parsed;
      try { parsed = JSON.parse(data.join("\n")); } catch { parsed = { text: data.join("\n") }; }
      yield { event, data: parsed };
    }
  }
}

async function send(text) {
  const question = text.trim();
  if (!question || busy) return;
  busy = true;
  form.classList.add("is-busy");
  input.value = "";
  bubble("user", question);
  state.messages.push({ role: "user", text: question });
  const status = h("p", { class: "tool-status muted", "aria-live": "polite" }, "Thinking…");
  const el = bubble("assistant", status, h("div", { class: "answer-text", dataset: { answerText: "" } }), h("div", { dataset: { answerExtra: "" } }));
  el.setAttribute("aria-busy", "true");
  const record = { role: "assistant", text: "", result: null };
  try {
    const response = await fetch("/api/chat", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify({ question, session_id: state.conversation ?? undefined }),
    });
    if (response.status === 404) throw new Error("The assistant is not available yet.");
    if (!response.ok) throw new Error(`The assistant answered ${response.status}.`);
    const textEl = el.querySelector("[data-answer-text]");
    for await (const { event, data } of sseMessages(response)) {
      state.conversation = data.session_id ?? data.conversation_id ?? state.conversation;
      if (event === "tool") {
        status.textContent = `Using ${data.tool ?? data.name ?? "a tool"}…`;
      } else if (event === "done") {
        record.result = data.result ?? data;
        renderAnswer(el, record.result);
        status.remove();
      } else if (event === "confirm") {
        el.querySelector("[data-answer-extra]").before(pendingAction(data));
        log.scrollTop = log.scrollHeight;
      } else if (event === "error") {
        throw new Error(data.message ?? data.detail ?? "The assistant failed.");
      } else {
        const chunk = data.text ?? data.delta ?? data.chunk ?? data.content;
        if (typeof chunk === "string") {
          status.textContent = "";
          textEl.textContent += chunk;
          log.scrollTop = log.scrollHeight;
        }
      }
    }
    record.text = record.result?.answer ?? textEl.textContent;
  } catch (error) {
    status.remove();
    el.classList.add("msg-error");
    el.querySelector("[data-answer-text]").textContent = error.message;
    record.text = error.message;
  } finally {
    el.removeAttribute("aria-busy");
    el.dataset.done = "true";
    busy = false;
    form.classList.remove("is-busy");
    state.messages.push({ role: "assistant", text: record.text });
    save();
  }
}

async function replay() {
  let messages = state.messages;
  if (state.conversation) {
    const response = await fetch(`/api/chat/sessions/${encodeURIComponent(state.conversation)}`, { credentials: "same-origin" });
    if (response.ok) messages = (await response.json()).messages.map((m) => ({ role: m.role === "user" ? "user" : "assistant", text: m.text }));
  }
  for (const message of messages) {
    if (message.role === "user") bubble("user", message.text);
    else bubble("assistant", h("div", { class: "answer-text" }, markdown(message.text)));
  }
}

/** Wire the chat panel of the page (present on every signed-in page). */
export function setupChat() {
  panel = document.querySelector("[data-chat]");
  if (!panel) return;
  log = panel.querySelector("[data-chat-log]");
  form = panel.querySelector("[data-chat-form]");
  input = form.querySelector("textarea");
  restore();
  replay();
  form.addEventListener("submit", (event) => { event.preventDefault(); send(input.value); });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  document.querySelector("[data-chat-toggle]")?.addEventListener("click", () => (panel.classList.contains("is-open") ? closeChat() : openChat()));
  panel.querySelector("[data-chat-close]")?.addEventListener("click", closeChat);
  panel.querySelector("[data-chat-clear]")?.addEventListener("click", () => {
    state = { conversation: null, messages: [] };
    save();
    clear(log);
  });
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName);
    if (event.key === "/" && !typing) { event.preventDefault(); openChat(); }
  });
}

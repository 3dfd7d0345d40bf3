// The documents page: upload (file picker or drag and drop, with size, progress and the
// server's reason when it refuses), the library, full-text search with passages and pages,
// and each document's summary.

import { api, csrfToken } from "../app.js";
import { clear, h, when } from "./ui.js";

const root = document.querySelector("[data-documents]");
const maxBytes = Number(root.dataset.maxBytes) || 25 * 1024 * 1024;
const form = root.querySelector("[data-upload-form]");
const dropzone = root.querySelector("[data-dropzone]");
const fileInput = root.querySelector("[data-file-input]");
const chosenEl = root.querySelector("[data-file-chosen]");
const progress = root.querySelector("[data-upload-progress]");
const statusEl = root.querySelector("[data-upload-status]");
const uploadButton = root.querySelector("[data-upload-button]");
const listEl = root.querySelector("[data-document-list]");
const searchForm = root.querySelector("[data-search-form]");
const panelTitle = root.querySelector("[data-doc-panel-title]");
const panelBody = root.querySelector("[data-doc-panel-body]");
let chosen = null;

export function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function setStatus(text, tone = "") {
  statusEl.textContent = text;
  statusEl.className = ["upload-status", tone].filter(Boolean).join(" ");
}

function choose(file) {
  chosen = file || null;
  progress.hidden = true;
  if (!chosen) {
    chosenEl.textContent = "";
    uploadButton.disabled = true;
    return;
  }
  chosenEl.textContent = `${chosen.name} · ${size(chosen.size)}`;
  if (chosen.size > maxBytes) {
    setStatus(`Too large: ${size(chosen.size)} is over the ${size(maxBytes)} limit.`, "error");
    uploadButton.disabled = true;
    return;
  }
  setStatus("");
  uploadButton.disabled = false;
}

/** The server's reason for a refusal, in plain words. */
function reason(status, body) {
  const detail = body && (typeof body.detail === "string" ? body.detail : Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : null);
  if (status === 413) return detail || "The file is over the size limit.";
  if (status === 403) return "Your session expired: reload the page and try again.";
  return detail || `The server refused the upload (${status}).`;
}

function upload(file) {
  // XMLHttpRequest, not fetch(): it reports upload progress.
  return new Promise((resolve) => {
    const body = new FormData();
    body.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/documents");
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      const pct = Math.round((event.loaded / event.total) * 100);
      progress.value = pct;
      progress.textContent = `${pct}%`;
      if (pct >= 100) setStatus("Uploaded; reading and indexing…");
    });
    xhr.addEventListener("load", () => {
      let parsed = null;
      try { parsed = JSON.parse(xhr.responseText); } catch { parsed = null; }
      resolve({ status: xhr.status, body: parsed });
    });
    xhr.addEventListener("error", () => resolve({ status: 0, body: { detail: "The connection failed before the upload finished." } }));
    xhr.send(body);
  });
}

async function submit(event) {
  event.preventDefault();
  if (!chosen) return;
  const file = chosen;
  uploadButton.disabled = true;
  progress.hidden = false;
  progress.value = 0;
  setStatus(`Uploading ${file.name}…`);
  const { status, body } = await upload(file);
  if (status === 401) { window.location.assign("/login?next=/documents"); return; }
  if (status >= 200 && status < 300) {
    const pages = body.pages ? `, ${body.pages} pages` : "";
    setStatus(body.already_present
      ? `${body.title} was already in the library.`
      : `Added ${body.title} (${body.kind}${pages}, ${body.chunks} passages indexed).`, "ok");
    form.reset();
    choose(null);
    await loadList();
    root.dataset.uploaded = String(body.id);
  } else {
    progress.hidden = true;
    setStatus(`Not added: ${reason(status, body)}`, "error");
    uploadButton.disabled = false;
  }
}

// ------------------------------------------------------------------------ library and summary

async function loadList() {
  const response = await api("/api/documents?limit=200");
  const payload = response.ok ? await response.json() : null;
  const rows = Array.isArray(payload?.data) ? payload.data : [];
  clear(listEl);
  if (!response.ok) {
    listEl.append(h("p", { class: "error" }, `Could not load the library (${response.status}).`));
  } else if (!rows.length) {
    listEl.append(h("p", { class: "empty-state" }, "No documents yet: upload one, or run `cto docs add PATH`."));
  } else {
    listEl.append(h("ul", { class: "doc-items" }, rows.map((doc) => h("li", { dataset: { documentId: String(doc.id) } },
      h("button", { type: "button", class: "doc-item", onclick: () => showSummary(doc) },
        h("span", { class: "row-title" }, doc.title),
        h("span", { class: "muted small" }, [doc.kind, doc.pages ? `${doc.pages} p.` : null, `${doc.chunks ?? "?"} passages`, `added ${when(doc.added_at)}`].filter(Boolean).join(" · ")))))));
  }
  root.dataset.ready = "true";
}

/** Safe, minimal Markdown for summaries: headings, "- " bullets, **bold**; text nodes only. */
function summaryBlocks(text) {
  const out = [];
  let list = null;
  const inline = (line) => line.split(/(\*\*[^*]+\*\*)/).map((part) => (part.startsWith("**") && part.endsWith("**") ? h("strong", {}, part.slice(2, -2)) : part));
  for (const line of String(text || "").split("\n")) {
    if (/^\s*[-*] /.test(line)) {
      list ??= h("ul", {});
      list.append(h("li", {}, inline(line.replace(/^\s*[-*] /, ""))));
      continue;
    }
    if (list) { out.push(list); list = null; }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) out.push(h("h4", {}, heading[2]));
    else if (line.trim()) out.push(h("p", {}, inline(line)));
  }
  if (list) out.push(list);
  return out;
}

async function showSummary(doc) {
  panelTitle.textContent = `Summary: ${doc.title}`;
  clear(panelBody).append(h("p", { class: "muted" }, "Loading…"));
  const response = await api(`/api/documents/${doc.id}/summary`);
  const payload = await response.json().catch(() => ({}));
  clear(panelBody);
  if (!response.ok) {
    panelBody.append(h("p", { class: "error" }, payload.detail || `No summary (${response.status}).`));
    return;
  }
  const data = payload.data || {};
  panelBody.append(
    h("p", { class: "muted small" }, [data.kind, data.pages ? `${data.pages} pages` : null, data.source].filter(Boolean).join(" · ")),
    h("div", { class: "doc-summary", dataset: { summary: String(doc.id) } }, summaryBlocks(data.summary || payload.summary)),
    (data.outline || []).length ? h("details", { class: "outline" }, h("summary", {}, `Outline (${data.outline.length} headings)`), h("ol", {}, data.outline.map((item) => h("li", {}, item)))) : null);
  panelTitle.focus?.();
}

// ------------------------------------------------------------------------ search

/** A snippet whose [matched words] are highlighted (text nodes and <mark> only). */
function highlighted(snippet) {
  return String(snippet || "").split(/(\[[^\]]+\])/).map((part) => (/^\[[^\]]+\]$/.test(part) ? h("mark", {}, part.slice(1, -1)) : part));
}

async function search(event) {
  event.preventDefault();
  const query = new FormData(searchForm).get("q")?.toString().trim();
  if (!query) return;
  panelTitle.textContent = `Passages for “${query}”`;
  clear(panelBody).append(h("p", { class: "muted" }, "Searching…"));
  const response = await api(`/api/documents/search?${new URLSearchParams({ q: query, limit: "20" })}`);
  const payload = await response.json().catch(() => ({}));
  clear(panelBody);
  if (!response.ok) {
    panelBody.append(h("p", { class: "error" }, typeof payload.detail === "string" ? payload.detail : `Search failed (${response.status}).`));
    return;
  }
  const passages = Array.isArray(payload.data) ? payload.data : [];
  if (!passages.length) {
    panelBody.append(h("p", { class: "empty-state" }, payload.summary || "No passage matches."));
    return;
  }
  panelBody.append(h("p", { class: "muted small" }, payload.summary),
    h("ol", { class: "passages", dataset: { results: String(passages.length) } }, passages.map((p) => h("li", { class: "passage" },
      h("div", { class: "passage-head" },
        h("button", { type: "button", class: "link", onclick: () => showSummary({ id: p.document_id, title: p.document }) }, p.document),
        h("span", { class: "pill" }, p.page != null ? `p. ${p.page}` : "no page"),
        p.heading ? h("span", { class: "muted small" }, p.heading) : null),
      h("blockquote", {}, highlighted(p.snippet || p.text))))));
}

// ------------------------------------------------------------------------ wiring

fileInput.addEventListener("change", () => choose(fileInput.files[0]));
form.addEventListener("submit", submit);
for (const name of ["dragenter", "dragover"]) {
  dropzone.addEventListener(name, (event) => { event.preventDefault(); dropzone.classList.add("is-over"); });
}
for (const name of ["dragleave", "drop"]) {
  dropzone.addEventListener(name, () => dropzone.classList.remove("is-over"));
}
dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  const file = event.dataTransfer?.files?.[0];
  if (file) choose(file);
});
searchForm.addEventListener("submit", search);
panelTitle.tabIndex = -1;
loadList();

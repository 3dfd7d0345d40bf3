// The reports page: stored weekly briefs (newest first), the selected one shown inline in a
// sandboxed iframe (no scripts, its own CSP), Markdown / PDF downloads, and "Generate now".

import { api, listen } from "../app.js";
import { clear, h, when } from "./ui.js";

const root = document.querySelector("[data-reports]");
const listEl = root.querySelector("[data-report-list]");
const titleEl = root.querySelector("[data-report-title]");
const downloadsEl = root.querySelector("[data-report-downloads]");
const frameWrap = root.querySelector("[data-report-frame-wrap]");
const statusEl = root.querySelector("[data-reports-status]");
const generateButton = root.querySelector("[data-generate]");
let reports = [];
let selected = null;

const period = (report) => `${when(report.period_start)} – ${when(report.period_end)}`;

function select(report, { focus = false } = {}) {
  selected = report.id;
  history.replaceState(null, "", `/reports?id=${report.id}`);
  for (const item of listEl.querySelectorAll("[data-report-id]")) {
    const current = Number(item.dataset.reportId) === report.id;
    item.classList.toggle("is-selected", current);
    item.querySelector("button")?.setAttribute("aria-current", current ? "true" : "false");
  }
  titleEl.textContent = report.title || `Weekly brief ${period(report)}`;
  const base = `/api/reports/${report.id}`;
  const stamp = report.period_end;
  clear(downloadsEl).append(
    h("a", { class: "button-link secondary", href: `${base}?format=md`, download: `weekly-brief-${stamp}.md` }, "Markdown ↓"),
    h("a", { class: "button-link secondary", href: `${base}?format=pdf`, download: `weekly-brief-${stamp}.pdf` }, "PDF ↓"),
    h("a", { class: "button-link secondary", href: `${base}?format=html`, target: "_blank", rel: "noopener" }, "Open ↗"));
  // sandbox="" : no scripts, no same-origin access, no forms, no top navigation.
  const frame = h("iframe", { class: "report-frame", src: `${base}?format=html`, sandbox: "", title: titleEl.textContent, loading: "lazy", referrerpolicy: "no-referrer" });
  frame.addEventListener("load", () => { root.dataset.shown = String(report.id); });
  clear(frameWrap).append(frame);
  if (focus) titleEl.focus();
}

function renderList() {
  clear(listEl);
  if (!reports.length) {
    listEl.append(h("li", { class: "empty-state" }, generateButton ? "No reports yet. Use “Generate now”, or wait for the weekly run." : "No reports yet: the first one arrives with the weekly run."));
    return;
  }
  for (const report of reports) {
    listEl.append(h("li", { dataset: { reportId: String(report.id) } },
      h("button", { type: "button", class: "report-item", onclick: () => select(report) },
        h("span", { class: "report-period" }, period(report)),
        h("span", { class: "muted small" }, `created ${when(report.created_at)} · #${report.id}`))));
  }
}

async function load({ pick } = {}) {
  const response = await api("/api/reports");
  if (!response.ok) {
    statusEl.textContent = `Could not load the reports (${response.status}).`;
    root.dataset.ready = "true";
    return;
  }
  reports = (await response.json()).reports || [];
  renderList();
  const wanted = pick ?? selected ?? Number(new URLSearchParams(location.search).get("id"));
  const report = reports.find((r) => r.id === wanted) || reports[0];
  if (report) select(report);
  root.dataset.ready = "true";
}

async function generate() {
  generateButton.disabled = true;
  statusEl.classList.remove("error");
  statusEl.textContent = "Writing the brief from the latest data…";
  try {
    const response = await api("/api/reports", { method: "POST" });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.detail || `The server answered ${response.status}.`);
    statusEl.textContent = `Report #${body.id} stored.`;
    await load({ pick: body.id });
  } catch (error) {
    statusEl.classList.add("error");
    statusEl.textContent = `No report: ${error.message}`;
  } finally {
    generateButton.disabled = false;
  }
}

generateButton?.addEventListener("click", generate);
listen({ report_created: () => load() });
load();

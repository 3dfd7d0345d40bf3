// The alerts page: early-warning alerts filtered by open / severity / domain, each with its
// summary, its evidence and its history (opened, escalated, re-notified, resolved).

import { api, listen } from "../app.js";
import { ask } from "./chat.js";
import { clear, fmt, h, label, when } from "./ui.js";

const root = document.querySelector("[data-alerts]");
const form = root.querySelector("[data-alert-filters]");
const listEl = root.querySelector("[data-alert-list]");
const summaryEl = root.querySelector("[data-alerts-summary]");
const TONE = { critical: "bad", warning: "warn", info: "muted" };

function query() {
  const data = new FormData(form);
  const params = new URLSearchParams({ open: data.get("open") ? "true" : "false" });
  for (const key of ["severity", "domain"]) if (data.get(key)) params.set(key, data.get(key));
  return params;
}

function restoreFilters() {
  const params = new URLSearchParams(location.search);
  if (params.get("open") === "false") form.elements.open.checked = false;
  for (const key of ["severity", "domain"]) if (params.get(key)) form.elements[key].value = params.get(key);
}

function details(alert) {
  const extra = Object.entries(alert.details || {}).filter(([key, value]) => key !== "history" && key !== "link" && value !== null && typeof value !== "object");
  if (!extra.length) return null;
  return h("dl", { class: "alert-facts" }, extra.slice(0, 12).map(([key, value]) => [h("dt", {}, label(key)), h("dd", {}, fmt(value, key))]));
}

function historyList(alert) {
  const events = alert.details?.history || [];
  if (!events.length) return h("p", { class: "muted small" }, "No history recorded.");
  return h("ol", { class: "timeline-list" }, [...events].reverse().map((entry) => h("li", {},
    h("time", { datetime: entry.at }, when(entry.at)), " ",
    h("strong", {}, entry.event), entry.severity ? [" · ", h("span", { class: ["pill", `tone-${TONE[entry.severity] || "muted"}`] }, entry.severity)] : null)));
}

function card(alert) {
  return h("article", { class: ["card", "alert-card", `sev-${alert.severity}`, alert.open ? "is-open" : "is-closed"], dataset: { alertId: String(alert.id), severity: alert.severity } },
    h("header", { class: "alert-head" },
      h("span", { class: ["pill", `tone-${TONE[alert.severity] || "muted"}`] }, alert.severity),
      h("span", { class: "pill" }, alert.domain),
      h("h2", {}, alert.subject),
      h("span", { class: "muted small alert-when" }, alert.open ? `open since ${when(alert.opened_at)}` : `resolved ${when(alert.closed_at)}`)),
    h("p", { class: "alert-summary" }, alert.summary),
    h("details", { class: "alert-more" },
      h("summary", {}, "Evidence and history"),
      h("p", { class: "muted small" }, `rule ${alert.rule} · updated ${when(alert.updated_at)}`),
      details(alert),
      historyList(alert)),
    h("div", { class: "alert-actions" },
      h("button", { type: "button", class: "secondary", onclick: () => ask(`Tell me more about the alert: ${alert.subject}`) }, "Ask about it")));
}

async function load() {
  const params = query();
  window.history.replaceState(null, "", `/alerts?${params}`);
  summaryEl.textContent = "Loading…";
  const response = await api(`/api/alerts?${params}`);
  const payload = await response.json().catch(() => ({}));
  clear(listEl);
  if (!response.ok) {
    summaryEl.textContent = `Could not load the alerts (${response.status}).`;
    root.dataset.ready = "true";
    return;
  }
  const alerts = payload.data?.alerts || [];
  summaryEl.textContent = payload.summary || `${alerts.length} alerts.`;
  if (!alerts.length) listEl.append(h("p", { class: "empty-state good" }, "Nothing needs attention for this filter."));
  else listEl.append(...alerts.map(card));
  root.dataset.ready = "true";
}

restoreFilters();
form.addEventListener("change", load);
form.addEventListener("submit", (event) => event.preventDefault());
listen({ alert_opened: load, alert_closed: load, sync_finished: load });
load();

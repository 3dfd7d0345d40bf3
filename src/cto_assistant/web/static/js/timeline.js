// The timeline page: deploys, incidents, SLO burns, cost anomalies and new critical vulns of a
// service (or the company) on one time axis; every mark opens its detail.

import { api } from "../app.js";
import { renderChart } from "./charts.js";
import { ask } from "./chat.js";
import { clear, h, openModal, table, when } from "./ui.js";

const root = document.querySelector("[data-timeline]");
const form = root.querySelector("[data-timeline-filters]");
const chartEl = root.querySelector("[data-timeline-chart]");
const tableEl = root.querySelector("[data-timeline-table]");
const summaryEl = root.querySelector("[data-timeline-summary]");
let payload = null;

function selectedKinds() {
  return new Set([...form.querySelectorAll('input[name="kind"]:checked')].map((box) => box.value));
}

function openEvent(event) {
  if (event.kind === "incident") ask(`Tell me more about incident ${event.ref}`);
  else if (event.kind === "cost_anomaly") ask("Analyze the latest cloud spend data");
  else if (event.kind === "vulnerability") ask(`Tell me more about the critical vulnerabilities in ${event.service || "our services"}`);
  else if (event.kind === "slo_burn") ask(`Which SLOs are burning error budget for ${event.service}?`);
  const rows = Object.entries(event).filter(([key, value]) => value !== null && key !== "lane").map(([key, value]) => ({ field: key, value: ["at", "end"].includes(key) ? when(value) : String(value) }));
  openModal(event.title, table(rows, { columns: ["field", "value"] }),
    event.url ? h("p", {}, h("a", { href: event.url, target: "_blank", rel: "noopener noreferrer" }, "Open in the source system ↗")) : null);
}

function draw() {
  if (!payload) return;
  const kinds = selectedKinds();
  const events = (payload.data?.events || []).filter((event) => kinds.has(event.kind));
  clear(chartEl);
  if (payload.chart) {
    const spec = structuredClone(payload.chart);
    spec.data.values = spec.data.values.filter((value) => kinds.has(value.kind));
    renderChart(chartEl, spec, { onClick: (datum) => {
      const match = events.find((event) => event.ref === datum.ref && event.kind === datum.kind);
      if (match) openEvent(match);
    } });
  } else {
    chartEl.append(h("p", { class: "empty-state" }, payload.summary));
  }
  clear(tableEl).append(events.length
    ? table([...events].reverse(), { columns: ["at", "kind", "service", "title", "severity"], onRow: openEvent, caption: `${events.length} events, newest first` })
    : h("p", { class: "empty-state" }, "Nothing to show for this filter."));
}

async function load() {
  const data = new FormData(form);
  const query = new URLSearchParams({ days: data.get("days") || "14" });
  if (data.get("service")) query.set("service", data.get("service"));
  history.replaceState(null, "", `/timeline?${query}`);
  summaryEl.textContent = "Loading…";
  const response = await api(`/api/timeline?${query}`);
  payload = await response.json();
  summaryEl.textContent = payload.summary || "";
  draw();
  root.dataset.ready = "true";
}

form.addEventListener("change", (event) => (event.target.name === "kind" ? draw() : load()));
form.addEventListener("submit", (event) => event.preventDefault());
load();

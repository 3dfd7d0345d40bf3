// The dashboard: a grid of widgets (add, remove, reorder, resize; saved per user), each fed by
// one tool call through GET /api/dashboard, refreshed live on sync_finished / alert_opened, and
// drillable: a click opens the detail modal and asks the chat the widget's question.
// Right after a sync the server may answer with the previous answers marked `refreshing`
// (it computes the new ones meanwhile): those widgets say "Updating…" and are fetched again
// when the server's `dashboard_warm` event arrives, or after a short wait. A widget the server
// could not answer within the page's budget (`pending`, state "loading": nothing computed yet)
// is fetched on its own at once.

import { api, listen } from "../app.js";
import { renderChart } from "./charts.js";
import { ask } from "./chat.js";
import { clear, fmt, h, label, money, openModal, provenance, rowsOf, sparkline, table, when } from "./ui.js";

const root = document.querySelector("[data-dashboard]");
const grid = root.querySelector("[data-grid]");
const toolbar = root.querySelector("[data-toolbar]");
const saveStatus = root.querySelector("[data-save-status]");
let catalog = {};
let layout = [];
let widgets = {};
let teams = {};
let editing = false;
let shownVersion = null;
let recheck = null;
const RECHECK_MS = [1000, 2000, 3000, 5000, 8000, 13000];
const BUDGET_MS = 200; // paint what the server has by then; slower widgets fill in on their own

// ---------------------------------------------------------------------------- renderers

const LEVEL_CLASS = { elite: "good", high: "good", medium: "warn", low: "bad", ok: "good", warn: "warn", critical: "bad", unknown: "muted" };
const SEVERITY_CLASS = (sev) => (/1|critical/i.test(sev || "") ? "bad" : /2|high/i.test(sev || "") ? "warn" : "muted");

function pill(text, tone = "muted") {
  return h("span", { class: ["pill", `tone-${tone}`] }, text);
}

function kpi(labelText, value, note, tone) {
  return h("div", { class: ["kpi", tone ? `tone-${tone}` : null] },
    h("span", { class: "kpi-label" }, labelText),
    h("span", { class: "kpi-value" }, value),
    note ? h("span", { class: "kpi-note" }, note) : null);
}

// The grid's answers are cut to what a tile draws; `<list>_total` says how many rows there are.
function totalOf(data, name, rows) {
  return data?.[`${name}_total`] ?? rows.length;
}

function miniList(rows, render, { empty = "Nothing to show.", limit = 5, onRow, total = rows.length } = {}) {
  if (!rows.length) return h("p", { class: "empty-state" }, empty);
  return h("ul", { class: "mini-list" }, rows.slice(0, limit).map((row) => {
    const item = h("li", {}, render(row));
    if (onRow) {
      item.classList.add("clickable");
      item.tabIndex = 0;
      item.addEventListener("click", (event) => { event.stopPropagation(); onRow(row); });
      item.addEventListener("keydown", (event) => { if (event.key === "Enter") { event.stopPropagation(); onRow(row); } });
    }
    return item;
  }), total > Math.min(limit, rows.length) ? h("li", { class: "more muted" }, `+${total - Math.min(limit, rows.length)} more`) : null);
}

function chartBox(payload, onPoint) {
  if (!payload.chart) return null;
  const box = h("div", { class: "chart-box" });
  requestAnimationFrame(() => renderChart(box, payload.chart, { compact: true, onClick: onPoint }));
  return box;
}

const RENDERERS = {
  executive_summary(payload) {
    const data = payload.data || {};
    const status = data.status || "Unknown";
    const tone = { Nominal: "good", Degraded: "warn", Critical: "bad" }[status] || "muted";
    const signals = data.signals || [];
    return h("div", { class: "exec" },
      h("div", { class: ["status-banner", `tone-${tone}`], dataset: { status } },
        h("span", { class: "status-label" }, "System status"),
        h("strong", { class: "status-value" }, status),
        h("span", { class: "status-reason" }, (data.reasons || [])[0] || payload.summary)),
      h("div", { class: "kpis" }, signals.filter((s) => s.key !== "sources").map((signal) => {
        const tile = kpi(signal.label, signal.value, signal.detail, LEVEL_CLASS[signal.level]);
        tile.classList.add("clickable");
        tile.tabIndex = 0;
        const open = (event) => { event.stopPropagation(); const target = widgets[signal.widget] || catalog[signal.widget]; if (target) drillDown(signal.widget); };
        tile.addEventListener("click", open);
        tile.addEventListener("keydown", (event) => { if (event.key === "Enter") open(event); });
        return tile;
      })));
  },

  incidents(payload) {
    const rows = rowsOf(payload.data, ["incidents"]);
    if (!rows.length) return h("p", { class: "empty-state good" }, "✓ No active incidents.");
    return miniList(rows, (row) => [
      pill(row.severity || "?", SEVERITY_CLASS(row.severity)), " ",
      h("span", { class: "row-title" }, row.title), h("br"),
      h("span", { class: "muted small" }, `${row.service || "?"} · ${row.assignee_name || row.assignee || "unassigned"} · ${row.age || fmt(row.age_minutes) + " min"}`),
    ], { onRow: (row) => incidentDetail(row) });
  },

  dora(payload) {
    const report = payload.data?.report || {};
    const trend = report.trend || [];
    const series = {
      deployment_frequency: trend.map((d) => d.deployments),
      change_lead_time: trend.map((d) => d.lead_time_median_seconds),
      change_failure_rate: trend.map((d) => d.change_failure_rate),
    };
    const keys = ["deployment_frequency", "change_lead_time", "change_failure_rate", "failed_deployment_recovery", "rework_rate"];
    return h("div", { class: "dora" },
      h("div", { class: "dora-head" }, "Overall ", pill(report.overall_level || "n/a", LEVEL_CLASS[report.overall_level]), h("span", { class: "muted small" }, ` ${report.scope || ""} · ${report.days || 30} days`)),
      h("div", { class: "dora-keys" }, keys.filter((k) => report[k]).map((key) => {
        const metric = report[key];
        const arrow = { rising: "↑", falling: "↓", flat: "→" }[metric.trend] || "";
        return h("div", { class: "dora-key", title: metric.why || "" },
          h("span", { class: "kpi-label" }, metric.label),
          h("span", { class: "kpi-value" }, metric.display, " ", h("span", { class: "trend" }, arrow)),
          metric.level ? pill(metric.level, LEVEL_CLASS[metric.level]) : h("span", { class: "muted small" }, metric.na_reason ? "N/A" : ""),
          series[key] ? sparkline(series[key]) : null);
      })));
  },

  slos(payload) {
    const rows = rowsOf(payload.data, ["slos"]);
    const order = { breached: 0, burning: 1, at_risk: 2, ok: 3, no_data: 4 };
    const sorted = [...rows].sort((a, b) => (order[a.status] ?? 5) - (order[b.status] ?? 5) || (a.budget_remaining ?? 2) - (b.budget_remaining ?? 2));
    const tone = { breached: "bad", burning: "bad", at_risk: "warn", ok: "good" };
    return miniList(sorted, (row) => [
      h("span", { class: "row-title" }, row.name), " ", pill(row.status.replace("_", " "), tone[row.status] || "muted"), h("br"),
      row.budget_remaining != null
        ? h("meter", { min: 0, max: 1, low: 0.25, high: 0.5, optimum: 1, value: Math.max(0, row.budget_remaining), title: `${Math.round(row.budget_remaining * 100)}% budget left` })
        : null,
      h("span", { class: "muted small" }, row.budget_remaining != null ? ` ${Math.round(row.budget_remaining * 100)}% budget left` : ` ${row.reason || ""}`),
    ], { limit: 4, total: totalOf(payload.data, "slos", rows) });
  },

  on_call(payload) {
    const rows = rowsOf(payload.data, ["on_call"]).filter((row) => row.level === 1 || row.level === undefined);
    return miniList(rows, (row) => [
      h("span", { class: "team-tag" }, row.team || "—"), " ", h("span", { class: "row-title" }, row.name || row.person),
      h("span", { class: "muted small" }, ` until ${when(row.until || row.shift_end)}`),
    ], { limit: 6, empty: "Nobody is on call.", total: payload.data?.on_call_total ?? rows.length });
  },

  sprint(payload) {
    const rows = rowsOf(payload.data, ["sprints"]);
    return miniList(rows, (row) => [
      h("span", { class: "row-title" }, row.name), " ",
      row.on_track === false ? pill("behind", "warn") : pill("on track", "good"),
      row.at_risk_total ? h("span", { class: "muted small" }, ` ${row.at_risk_total} at risk`) : null, h("br"),
      h("progress", { max: 1, value: row.completion_ratio ?? 0, title: `${Math.round((row.completion_ratio ?? 0) * 100)}% done` }),
      h("span", { class: "muted small" }, ` ${fmt(row.completed_points)}/${fmt(row.scope_points)} pts`),
    ], { limit: 4, empty: "No active sprint.", total: totalOf(payload.data, "sprints", rows) });
  },

  freshness(payload) {
    const rows = rowsOf(payload.data, ["sources"]);
    const tone = { ok: "good", degraded: "warn", failing: "bad", never_synced: "muted" };
    return miniList(rows, (row) => [
      h("span", { class: ["dot", `tone-${tone[row.state] || "muted"}`], "aria-hidden": "true" }), " ",
      h("span", { class: "row-title" }, row.source), h("span", { class: "muted small" }, ` ${row.state.replace("_", " ")} · ${row.age} ago`),
    ], { limit: 10 });
  },

  security(payload) {
    const data = payload.data || {};
    const projects = [...(data.projects || [])].sort((a, b) => (b.risk_score ?? 0) - (a.risk_score ?? 0));
    return h("div", { class: "security" },
      h("div", { class: "kpis" },
        kpi("Critical", fmt(data.open_critical), data.new_critical_this_week ? `${data.new_critical_this_week} new this week` : null, data.open_critical ? "bad" : "good"),
        kpi("High", fmt(data.open_high), null, data.open_high ? "warn" : "good"),
        kpi("Past SLA", fmt(data.sla_breaches), null, data.sla_breaches ? "warn" : "good")),
      h("div", { class: "compliance" }, (data.compliance || []).map((c) =>
        h("span", { class: "compliance-item", title: (c.failing_controls || []).join(", ") },
          h("strong", {}, c.title), ` ${fmt(c.posture_pct)}% · ${c.failing} failing`))),
      miniList(projects, (row) => [
        h("span", { class: "row-title" }, row.project), h("span", { class: "muted small" },
          ` ${row.open_by_severity?.critical ?? 0} crit · ${row.open_by_severity?.high ?? 0} high · risk ${fmt(row.risk_score)}`),
      ], { limit: 2, total: totalOf(data, "projects", projects) }));
  },

  cloud_spend(payload) {
    const data = payload.data || {};
    const get = (...keys) => { for (const key of keys) { const v = key.split(".").reduce((o, k) => (o == null ? o : o[k]), data); if (v != null) return v; } return null; };
    const currency = get("currency", "projection.currency") || "USD";
    const mtd = get("projection.month_to_date", "month_to_date.month_to_date");
    const projected = get("projected_total", "projection.projected_total");
    const budget = get("projection.budget", "budget.amount");
    const lastMonth = get("projection.last_month_total", "month_to_date.last_month_total");
    const lower = get("projection.lower");
    const upper = get("projection.upper");
    const tiles = [
      mtd != null ? kpi("Month to date", money(mtd, currency)) : null,
      projected != null ? kpi("Projected month end", money(projected, currency), lower != null ? `${money(lower, currency)}–${money(upper, currency)}` : null, budget && projected > budget ? "bad" : null) : null,
      lastMonth != null ? kpi("Last month", money(lastMonth, currency)) : null,
      typeof budget === "number" ? kpi("Budget", money(budget, currency), projected > budget ? "projected over" : "projected within", projected > budget ? "bad" : "good") : kpi("Budget", "—", "no budget set"),
    ].filter(Boolean);
    return h("div", { class: "spend" }, tiles.length ? h("div", { class: "kpis" }, tiles) : null,
      chartBox(payload, (datum) => pointQuestion(payload, datum)) || generic(payload));
  },
};

function generic(payload) {
  const rows = rowsOf(payload.data);
  const chart = chartBox(payload, (datum) => pointQuestion(payload, datum));
  if (chart) return chart;
  if (!rows.length) return h("p", { class: "summary-big" }, payload.summary);
  const cols = Object.keys(rows[0]).filter((k) => ["string", "number"].includes(typeof rows[0][k])).slice(0, 2);
  const name = Object.keys(payload.data || {}).find((key) => payload.data[key] === rows);
  return miniList(rows, (row) => cols.map((col, i) => (i === 0 ? h("span", { class: "row-title" }, fmt(row[col], col)) : h("span", { class: "muted small" }, ` ${fmt(row[col], col)}`))), { limit: 5, total: totalOf(payload.data, name, rows) });
}

// ---------------------------------------------------------------------------- drill-down

function pointQuestion(payload, datum) {
  const stamp = datum.date || datum.day || datum.start || datum.at;
  const what = catalog[payload.id]?.title.toLowerCase() || payload.id;
  drillDown(payload.id, stamp ? `Tell me more about the ${what} on ${String(stamp).slice(0, 10)}` : undefined);
}

function detailRows(payload) {
  if (payload.id === "dora") {
    const report = payload.data?.report || {};
    return { rows: ["deployment_frequency", "change_lead_time", "change_failure_rate", "failed_deployment_recovery", "time_to_restore", "rework_rate"]
      .filter((k) => report[k]).map((k) => ({ metric: report[k].label, value: report[k].display, level: report[k].level, trend: report[k].trend, n: report[k].n, why: report[k].why })),
    columns: ["metric", "value", "level", "trend", "n", "why"], extra: payload.data?.breakdown };
  }
  if (payload.id === "cloud_spend" && payload.data?.month_to_date?.series) {
    return { rows: payload.data.month_to_date.series, columns: ["day_of_month", "this_month", "last_month", "this_month_cumulative", "last_month_cumulative"] };
  }
  if (payload.id === "security") {
    const projects = (payload.data?.projects || []).map((p) => ({ project: p.project, team: p.team, critical: p.open_by_severity?.critical, high: p.open_by_severity?.high, medium: p.open_by_severity?.medium, sla_breaches: p.sla_breaches, in_kev: p.in_kev, risk_score: p.risk_score }));
    return { rows: projects, extra: payload.data?.compliance?.map((c) => ({ framework: c.title, posture_pct: c.posture_pct, passing: c.passing, failing: c.failing, no_evidence: c.no_evidence, failing_controls: c.failing_controls })), extraTitle: "Compliance" };
  }
  if (payload.id === "executive_summary") {
    return { rows: payload.data?.signals || [], columns: ["label", "value", "detail", "level"], reasons: payload.data?.reasons };
  }
  return { rows: rowsOf(payload.data) };
}

/** Every row of a widget whose tile data was cut (the modal's table), or the tile's data. */
async function fullPayload(id) {
  const shown = widgets[id];
  if (!shown?.compact) return shown;
  const item = layout.find((entry) => entry.id === id);
  const query = new URLSearchParams({ ...(item?.options || {}), full: "true" }).toString();
  const response = await api(`/api/widgets/${id}?${query}`);
  return response.ok ? response.json() : shown;
}

/** Open a widget's detail modal and ask the chat its question. */
export async function drillDown(id, question) {
  const info = catalog[id];
  if (!info) return;
  ask(question || info.question);
  const payload = await fullPayload(id);
  if (!payload) return;
  const { rows, columns, reasons, extra, extraTitle } = detailRows(payload);
  const parts = [
    h("p", { class: "modal-summary" }, payload.summary || payload.problem?.message || ""),
    h("p", { class: "provenance" }, provenance(payload), " · tool ", h("code", {}, payload.tool)),
  ];
  if (reasons?.length) parts.push(h("ul", { class: "reasons" }, reasons.map((r) => h("li", {}, r))));
  if (payload.chart) {
    const box = h("div", { class: "chart-full" });
    parts.push(box);
    requestAnimationFrame(() => renderChart(box, payload.chart, { onClick: (datum) => pointQuestion(payload, datum) }));
  }
  if (rows.length) {
    const onRow = id === "incidents" ? incidentDetail : undefined;
    parts.push(table(rows, { columns, onRow, caption: `${rows.length} row${rows.length === 1 ? "" : "s"} behind the number` }));
  }
  if (Array.isArray(extra) && extra.length) parts.push(h("h3", {}, extraTitle || "By team"), table(extra));
  openModal(info.title, parts);
}

function incidentDetail(row) {
  const question = `Tell me more about incident ${row.key}`;
  ask(question);
  const show = (incident) => {
    const events = incident.timeline || [];
    openModal(`${incident.key} · ${incident.title}`,
      h("div", { class: "kpis" },
        kpi("Severity", incident.severity || "—", null, SEVERITY_CLASS(incident.severity)),
        kpi("Status", incident.status || "—"),
        kpi("Assignee", incident.assignee_name || incident.assignee || "—"),
        kpi("Age", incident.age || `${fmt(incident.age_minutes)} min`)),
      h("p", {}, `Service ${incident.service || "?"} · team ${incident.team || "?"} · triggered ${when(incident.triggered_at)}`,
        incident.acknowledged_at ? ` · acknowledged ${when(incident.acknowledged_at)}` : "",
        incident.caused_by_deployment ? ` · linked deploy ${incident.caused_by_deployment}` : ""),
      incident.url ? h("p", {}, h("a", { href: incident.url, target: "_blank", rel: "noopener noreferrer" }, "Open in the incident tool ↗")) : null,
      (incident.responders || []).length ? h("p", { class: "muted" }, `Responders: ${incident.responders.join(", ")}`) : null,
      h("h3", {}, "Timeline"),
      events.length
        ? h("ol", { class: "timeline-list", dataset: { incidentTimeline: incident.key } }, events.map((event) =>
          h("li", {}, h("time", { datetime: event.at }, when(event.at)), " ", pill(event.kind || "event"), " ", event.summary || "", event.actor ? h("span", { class: "muted" }, ` — ${event.actor}`) : null)))
        : h("p", { class: "empty-state" }, "No timeline entries."));
  };
  show(row);
  api(`/api/widgets/incidents/detail?key=${encodeURIComponent(row.key)}`).then(async (response) => {
    if (!response.ok) return;
    const detail = await response.json();
    const incident = detail.status === "ok" ? (detail.data?.incident || detail.data) : null;
    // Only fill in the modal the user still looks at: a closed one must not pop back up.
    const dialog = document.querySelector("[data-modal]");
    const stillShown = dialog?.open && dialog.querySelector("[data-modal-title]")?.textContent.startsWith(`${row.key} ·`);
    if (incident && incident.key === row.key && stillShown) show({ ...row, ...incident });
  });
}

// ---------------------------------------------------------------------------- widgets

function problemBanner(payload) {
  const problem = payload.problem;
  if (!problem || payload.state === "empty") return null;
  return h("div", { class: ["problem", `problem-${payload.state}`], role: "status" },
    problem.message, problem.link ? [" — ", h("a", { href: problem.link }, payload.state === "not_configured" ? "connect" : "details")] : null);
}

function widgetBody(payload) {
  if (payload.state === "unavailable") return h("p", { class: "empty-state muted" }, "Not available yet.");
  if (payload.state === "not_configured" || payload.state === "error") return h("p", { class: "empty-state muted" }, payload.summary || "");
  if (payload.state === "empty") {
    const renderer = RENDERERS[payload.id];
    if (payload.id === "incidents" && renderer) return renderer(payload);
    return h("p", { class: "empty-state" }, payload.summary || "No data yet.");
  }
  const renderer = RENDERERS[payload.id] || generic;
  try {
    return renderer(payload);
  } catch (error) {
    console.warn("widget render failed", payload.id, error);
    return generic(payload);
  }
}

function filterControl(item, info) {
  if (!info.filters.includes("team") || !Object.keys(teams).length) return null;
  const select = h("select", { "aria-label": `${info.title}: team`, class: "filter", onclick: (e) => e.stopPropagation() },
    h("option", { value: "" }, "All teams"),
    Object.entries(teams).map(([key, name]) => h("option", { value: key, selected: item.options?.team === key }, name)));
  select.addEventListener("change", async () => {
    item.options = select.value ? { team: select.value } : {};
    await saveLayout();
    await refreshWidget(item);
  });
  return select;
}

function editControls(item, index) {
  const button = (text, title, action, disabled = false) => h("button", { type: "button", class: "icon", title, "aria-label": `${title}: ${catalog[item.id].title}`, disabled, onclick: (event) => { event.stopPropagation(); action(); } }, text);
  return h("div", { class: "edit-controls" },
    button("←", "Move earlier", () => move(index, -1), index === 0),
    button("→", "Move later", () => move(index, 1), index === layout.length - 1),
    button("−", "Narrower", () => resize(item, -1, 0), item.w <= 1),
    button("+", "Wider", () => resize(item, 1, 0), item.w >= 4),
    button("↕", item.h > 1 ? "Shorter" : "Taller", () => resize(item, 0, item.h > 1 ? -1 : 1)),
    button("✕", "Remove", () => remove(index)));
}

// Widgets with a page of their own: a link in the header.
const PAGE_LINKS = { alerts: ["/alerts", "All alerts →"] };

function card(item, index) {
  const info = catalog[item.id];
  const payload = widgets[item.id] || { id: item.id, state: "loading" };
  const el = h("article", {
    class: ["widget", `w-${item.w}`, `h-${item.h}`, `state-${payload.state}`],
    dataset: { widget: item.id, state: payload.state },
    tabindex: "0",
    "aria-label": `${info.title} — open details`,
    draggable: editing ? "true" : null,
  },
  h("header", {},
    h("h2", {}, info.title),
    filterControl(item, info),
    PAGE_LINKS[item.id] && !editing ? h("a", { class: "widget-link", href: PAGE_LINKS[item.id][0] }, PAGE_LINKS[item.id][1]) : null,
    h("span", { class: "age", title: payload.as_of ? `data as of ${payload.as_of}` : "" }, payload.state === "unavailable" ? "" : provenance(payload)),
    payload.refreshing ? h("span", { class: "updating muted", role: "status", title: "A sync just finished: these figures are being recomputed" }, "Updating…") : null,
    editing ? editControls(item, index) : null),
  problemBanner(payload),
  h("div", { class: "widget-body" }, payload.state === "loading" ? h("p", { class: "muted" }, "Loading…") : widgetBody(payload)),
  payload.summary && !["empty", "not_configured", "error"].includes(payload.state) ? h("footer", { class: "widget-summary", title: payload.summary }, payload.summary) : null);
  el.addEventListener("click", (event) => {
    if (editing || event.target.closest("a, button, select, input, .clickable")) return;
    drillDown(item.id);
  });
  el.addEventListener("keydown", (event) => {
    if (event.target === el && event.key === "Enter") drillDown(item.id);
  });
  if (editing) {
    el.addEventListener("dragstart", (event) => { event.dataTransfer.setData("text/plain", String(index)); el.classList.add("dragging"); });
    el.addEventListener("dragend", () => el.classList.remove("dragging"));
    el.addEventListener("dragover", (event) => event.preventDefault());
    el.addEventListener("drop", (event) => {
      event.preventDefault();
      const from = Number(event.dataTransfer.getData("text/plain"));
      if (Number.isInteger(from) && from !== index) {
        const [moved] = layout.splice(from, 1);
        layout.splice(index, 0, moved);
        changed();
      }
    });
  }
  return el;
}

function render() {
  const focused = document.activeElement?.closest?.("[data-widget]")?.dataset.widget;
  clear(grid);
  layout.forEach((item, index) => grid.append(card(item, index)));
  if (!layout.length) grid.append(h("p", { class: "empty-state" }, "No widgets. Use “Customize” to add some."));
  renderToolbar();
  if (focused) grid.querySelector(`[data-widget="${focused}"]`)?.focus();
}

function renderToolbar() {
  const addBox = toolbar.querySelector("[data-add]");
  clear(addBox);
  root.classList.toggle("is-editing", editing);
  toolbar.querySelector("[data-edit]").setAttribute("aria-pressed", String(editing));
  toolbar.querySelector("[data-edit]").textContent = editing ? "Done" : "Customize";
  if (!editing) return;
  const hidden = Object.values(catalog).filter((info) => !layout.some((item) => item.id === info.id));
  const select = h("select", { "aria-label": "Widget to add", dataset: { addSelect: "" } },
    hidden.map((info) => h("option", { value: info.id }, info.title + (info.available ? "" : " (not available yet)"))));
  addBox.append(select,
    h("button", { type: "button", disabled: !hidden.length, dataset: { addButton: "" }, onclick: () => add(select.value) }, "Add widget"),
    h("button", { type: "button", class: "secondary", onclick: resetLayout }, "Reset layout"));
}

// ---------------------------------------------------------------------------- layout changes

function move(index, delta) {
  const target = index + delta;
  if (target < 0 || target >= layout.length) return;
  [layout[index], layout[target]] = [layout[target], layout[index]];
  changed();
}

function resize(item, dw, dh) {
  item.w = Math.min(4, Math.max(1, item.w + dw));
  item.h = Math.min(2, Math.max(1, item.h + dh));
  changed();
}

function remove(index) {
  layout.splice(index, 1);
  changed();
}

async function add(id) {
  if (!id || layout.some((item) => item.id === id)) return;
  const info = catalog[id];
  layout.push({ id, w: info.size.w, h: info.size.h, options: {} });
  changed();
  await refreshWidget(layout[layout.length - 1]);
}

async function resetLayout() {
  const response = await api("/api/dashboard/layout", { method: "DELETE" });
  if (response.ok) await load();
}

function changed() {
  render();
  saveLayout();
}

async function saveLayout() {
  saveStatus.textContent = "Saving…";
  const response = await api("/api/dashboard/layout", { method: "PUT", body: { widgets: layout } });
  saveStatus.textContent = response.ok ? "Layout saved" : "Could not save the layout";
  root.dataset.saved = response.ok ? "true" : "false";
}

// ---------------------------------------------------------------------------- data

async function refreshWidget(item, { quiet = false } = {}) {
  const query = new URLSearchParams(item.options || {}).toString();
  const response = await api(`/api/widgets/${item.id}${query ? `?${query}` : ""}`);
  if (!response.ok) return;
  widgets[item.id] = await response.json();
  render();
  if (!quiet) recheckRefreshing();
}

// Fetch the widgets that showed a stale answer again, a little later each time.
function recheckRefreshing(attempt = 0) {
  clearTimeout(recheck);
  const stale = layout.filter((item) => widgets[item.id]?.refreshing || widgets[item.id]?.pending);
  root.dataset.refreshing = String(stale.length);
  if (!stale.length || attempt >= RECHECK_MS.length) return;
  recheck = setTimeout(async () => {
    await Promise.all(stale.map((item) => refreshWidget(item, { quiet: true })));
    recheckRefreshing(attempt + 1);
  }, RECHECK_MS[attempt]);
}

async function load() {
  const started = performance.now();
  const response = await api(`/api/dashboard?budget_ms=${BUDGET_MS}`);
  if (!response.ok) {
    clear(grid).append(h("p", { class: "error" }, `The dashboard could not load (${response.status}).`));
    return;
  }
  const body = await response.json();
  catalog = Object.fromEntries(body.catalog.map((info) => [info.id, info]));
  layout = body.layout.widgets;
  widgets = body.widgets;
  teams = body.teams || {};
  shownVersion = body.data_version ?? null;
  render();
  // Widgets the server had no answer for yet are being computed: each one fills in as it lands.
  await Promise.all(layout.filter((item) => widgets[item.id]?.pending).map((item) => refreshWidget(item, { quiet: true })));
  recheckRefreshing();
  root.dataset.ready = "true";
  root.dataset.serverMs = body.elapsed_ms;
  root.dataset.renderMs = Math.round(performance.now() - started);
  root.dataset.version = shownVersion ?? "";
}

toolbar.querySelector("[data-edit]").addEventListener("click", () => { editing = !editing; render(); });
load();
listen({
  sync_finished: () => load(),
  alert_opened: () => load(),
  // The server's answers for new data are ready: reload if this page shows older ones.
  dashboard_warm: (data) => {
    if (data?.version !== shownVersion || layout.some((item) => widgets[item.id]?.refreshing)) load();
  },
});

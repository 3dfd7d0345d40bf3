// Small DOM helpers: element builder, formatting, sortable tables and the detail modal.
// Data is always written with textContent (never innerHTML): vendor text is untrusted.

/** Build an element: h("a", {href, class: "x", onclick}, "text", child). */
export function h(tag, attrs = {}, ...children) {
  const svg = ["svg", "polyline", "line", "circle", "path", "rect"].includes(tag);
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Remove every child of an element. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** A readable label for a field name: "assignee_name" → "Assignee name". */
export function label(key) {
  const text = String(key).replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Format one value for a table cell. */
export function fmt(value, key = "") {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") {
    if (/(ratio|rate|share|pct|coverage)$/.test(key) && Math.abs(value) <= 1.5) return `${(value * 100).toFixed(1)}%`;
    if (/(cost|amount|spend|total|impact|saving|budget|projected)/.test(key)) return money(value);
    if (Number.isInteger(value)) return value.toLocaleString("en-US");
    return value.toLocaleString("en-US", { maximumFractionDigits: 2 });
  }
  if (typeof value === "string" && ISO.test(value)) return when(value);
  if (Array.isArray(value)) return value.length && typeof value[0] !== "object" ? value.join(", ") : `${value.length} items`;
  if (typeof value === "object") return JSON.stringify(value).slice(0, 80);
  return String(value);
}

/** Money with a compact suffix: $412k, $1.24M. */
export function money(value, currency = "USD") {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  const sign = currency === "USD" ? "$" : `${currency} `;
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${sign}${(value / 1e6).toFixed(2)}M`;
  if (abs >= 1e4) return `${sign}${(value / 1e3).toFixed(0)}k`;
  return `${sign}${value.toLocaleString("en-US", { maximumFractionDigits: 0 })}`;
}

/** "2025-06-18T09:23:58Z" → "Jun 18, 09:23" (UTC, as the data is). */
export function when(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(iso);
  const options = dateOnly
    ? { month: "short", day: "numeric", timeZone: "UTC" }
    : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false, timeZone: "UTC" };
  return date.toLocaleString("en-US", options);
}

/** The list of row objects behind a tool's data (the first array of objects found). */
export function rowsOf(data, prefer = []) {
  if (!data) return [];
  if (Array.isArray(data)) return data.filter((row) => row && typeof row === "object");
  for (const key of prefer) {
    if (Array.isArray(data[key])) return data[key];
  }
  for (const value of Object.values(data)) {
    if (Array.isArray(value) && value.length && typeof value[0] === "object" && value[0] !== null) return value;
  }
  for (const value of Object.values(data)) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const nested = rowsOf(value);
      if (nested.length) return nested;
    }
  }
  return [];
}

/** Columns worth showing: scalar fields, url-ish ones last and hidden behind a link. */
export function columnsOf(rows, limit = 8) {
  const seen = new Map();
  for (const row of rows.slice(0, 50)) {
    for (const [key, value] of Object.entries(row)) {
      if (key === "url" || key.endsWith("_url") || key === "why") continue;
      const scalar = value === null || ["string", "number", "boolean"].includes(typeof value)
        || (Array.isArray(value) && value.every((v) => typeof v !== "object"));
      if (scalar && !seen.has(key)) seen.set(key, true);
    }
  }
  return [...seen.keys()].slice(0, limit);
}

/** A sortable table of rows; a row with a url gets an "open" link to the source system. */
export function table(rows, { columns, onRow, caption } = {}) {
  const cols = columns || columnsOf(rows);
  const hasUrl = rows.some((row) => row.url);
  let sortKey = null;
  let ascending = true;
  const tbody = h("tbody");
  const render = () => {
    clear(tbody);
    const sorted = [...rows];
    if (sortKey) {
      sorted.sort((a, b) => {
        const x = a[sortKey];
        const y = b[sortKey];
        if (x === y) return 0;
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return ascending ? order : -order;
      });
    }
    for (const row of sorted) {
      const tr = h("tr", {}, cols.map((col) => h("td", { class: typeof row[col] === "number" ? "num" : "" }, fmt(row[col], col))));
      if (hasUrl) {
        tr.append(h("td", {}, row.url ? h("a", { href: row.url, target: "_blank", rel: "noopener noreferrer" }, "open ↗") : ""));
      }
      if (onRow) {
        tr.classList.add("clickable");
        tr.tabIndex = 0;
        tr.addEventListener("click", (event) => { if (event.target.tagName !== "A") onRow(row); });
        tr.addEventListener("keydown", (event) => { if (event.key === "Enter") onRow(row); });
      }
      tbody.append(tr);
    }
  };
  const headers = cols.map((col) => {
    const button = h("button", { type: "button", class: "sort" }, label(col));
    const th = h("th", { scope: "col", "aria-sort": "none" }, button);
    button.addEventListener("click", () => {
      ascending = sortKey === col ? !ascending : true;
      sortKey = col;
      for (const other of th.parentElement.children) other.setAttribute("aria-sort", "none");
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      render();
    });
    return th;
  });
  if (hasUrl) headers.push(h("th", { scope: "col" }, "Source"));
  render();
  return h("div", { class: "table-wrap" }, h("table", { class: "data" }, caption ? h("caption", {}, caption) : null, h("thead", {}, h("tr", {}, headers)), tbody));
}

/** A tiny sparkline as SVG from numbers (nulls skipped). */
export function sparkline(values, { width = 96, height = 26 } = {}) {
  const points = values.map((v, i) => [i, v]).filter(([, v]) => typeof v === "number");
  const svg = h("svg", { class: "spark", viewBox: `0 0 ${width} ${height}`, width, height, "aria-hidden": "true" });
  if (points.length < 2) return svg;
  const ys = points.map(([, v]) => v);
  const min = Math.min(...ys);
  const max = Math.max(...ys);
  const span = max - min || 1;
  const n = values.length - 1 || 1;
  const coords = points.map(([i, v]) => `${((i / n) * (width - 2) + 1).toFixed(1)},${(height - 2 - ((v - min) / span) * (height - 4)).toFixed(1)}`);
  svg.append(h("polyline", { points: coords.join(" "), fill: "none", stroke: "currentColor", "stroke-width": "1.5" }));
  return svg;
}

let modalOpener = null;

/** Open the detail modal with a title and content; Escape or the close button shuts it. */
export function openModal(title, ...content) {
  const dialog = document.querySelector("[data-modal]");
  modalOpener = document.activeElement;
  clear(dialog.querySelector("[data-modal-title]")).append(title);
  clear(dialog.querySelector("[data-modal-body]")).append(...content.flat());
  if (!dialog.open) dialog.show();
  dialog.classList.add("is-open");
  document.body.classList.add("modal-open");
  dialog.querySelector("[data-modal-close]").focus();
  return dialog.querySelector("[data-modal-body]");
}

/** Close the detail modal and give focus back. */
export function closeModal() {
  const dialog = document.querySelector("[data-modal]");
  if (!dialog?.open) return;
  dialog.close();
  dialog.classList.remove("is-open");
  document.body.classList.remove("modal-open");
  if (modalOpener && modalOpener.focus) modalOpener.focus();
}

export function setupModal() {
  const dialog = document.querySelector("[data-modal]");
  if (!dialog) return;
  dialog.querySelector("[data-modal-close]").addEventListener("click", closeModal);
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") closeModal(); });
  document.body.addEventListener("click", (event) => { if (event.target === document.body) closeModal(); });
}

/** Age and sources line: "PagerDuty · 3m ago". */
export function provenance(payload) {
  const names = (payload.sources || []).map((s) => s.source);
  const sources = names.length > 2 ? `${names.slice(0, 2).join(", ")} +${names.length - 2}` : names.join(", ");
  const age = payload.age && payload.age !== "never" ? `${payload.age} ago` : "age unknown";
  return `${sources || "no source"} · ${age}`;
}

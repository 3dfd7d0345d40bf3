// The settings page: connected sources with status and a read-only connection test (admins),
// users and roles.

import { api } from "../app.js";
import { clear, h, table } from "./ui.js";

const root = document.querySelector("[data-settings]");
const isAdmin = root.dataset.admin === "true";

async function testConnection(name, cell) {
  clear(cell).append("Testing…");
  const response = await api(`/api/sources/${encodeURIComponent(name)}/check`, { method: "POST" });
  if (!response.ok) {
    clear(cell).append(h("span", { class: "error" }, `Failed (${response.status})`));
    return;
  }
  const results = await response.json();
  clear(cell).append(h("ul", { class: "checks" }, results.map((r) =>
    h("li", { class: r.ok ? "tone-good" : "tone-bad" }, `${r.ok ? "✓" : "✗"} ${r.capability}`, r.detail ? h("span", { class: "muted small" }, ` — ${r.detail}`) : null))));
}

async function loadSources() {
  const response = await api("/api/sources");
  const body = await response.json();
  const box = clear(root.querySelector("[data-settings-sources]"));
  if (!body.sources.length) {
    box.append(h("p", { class: "empty-state" }, "No source is connected yet. Add a [sources.NAME] section to cto.toml, or run cto demo."));
    return;
  }
  const rows = h("tbody");
  for (const source of body.sources) {
    const result = h("td", { class: "check-result" });
    rows.append(h("tr", { dataset: { source: source.source } },
      h("td", {}, h("strong", {}, source.source)),
      h("td", {}, body.vendors[source.kind] || source.kind),
      h("td", {}, h("span", { class: ["pill", `tone-${{ ok: "good", degraded: "warn", failing: "bad" }[source.state] || "muted"}`] }, source.state.replace("_", " "))),
      h("td", {}, source.age === "never" ? "never" : `${source.age} ago`),
      h("td", {}, source.last_error || ""),
      h("td", {}, isAdmin ? h("button", { type: "button", class: "secondary", onclick: () => testConnection(source.source, result) }, "Test connection") : h("span", { class: "muted small" }, "admin only")),
      result));
  }
  box.append(h("div", { class: "table-wrap" }, h("table", { class: "data" },
    h("thead", {}, h("tr", {}, ["Source", "Kind", "Status", "Last sync", "Last error", "", "Result"].map((t) => h("th", { scope: "col" }, t)))), rows)));
}

async function loadUsers() {
  const box = root.querySelector("[data-settings-users]");
  if (!box) return;
  const response = await api("/api/admin/users");
  const users = await response.json();
  clear(box).append(table(users, { columns: ["username", "role", "active", "created_at", "last_sign_in_at"] }));
}

const addForm = root.querySelector("[data-add-user]");
addForm?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = Object.fromEntries(new FormData(addForm));
  const status = addForm.querySelector("[data-add-user-status]");
  const response = await api("/api/admin/users", { method: "POST", body: data });
  const body = await response.json();
  status.textContent = response.ok ? `Added ${body.username} (${body.role}).` : (typeof body.detail === "string" ? body.detail : "Could not add the user.");
  if (response.ok) { addForm.reset(); loadUsers(); }
});

loadSources();
loadUsers();
root.dataset.ready = "true";

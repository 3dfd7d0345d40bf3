// CTO Assistant — browser side. ES modules, no build step, no dependencies, no inline script
// (strict CSP). This module holds the shared pieces (API calls, live events, theme) and loads
// the module of the page it runs on.

/** The CSRF token of this page's session (send it on every state-changing request). */
export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

/** fetch() for our JSON API: same-origin cookies and the CSRF header. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrfToken();
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) window.location.assign("/login");
  return response;
}

let source = null;
const handlers = new Map();

/** Listen to server-sent events; handlers is a map of event name to function. */
export function listen(map) {
  const status = document.querySelector("[data-live-status]");
  const setLive = (live) => {
    if (!status) return;
    status.textContent = live ? "live" : "offline";
    status.classList.toggle("is-live", live);
  };
  if (!source) {
    source = new EventSource("/api/events");
    source.addEventListener("ready", () => setLive(true));
    source.addEventListener("error", () => setLive(false));
  }
  for (const [name, handler] of Object.entries(map)) {
    if (!handlers.has(name)) {
      handlers.set(name, []);
      source.addEventListener(name, (event) => {
        const data = JSON.parse(event.data);
        for (const fn of handlers.get(name)) fn(data);
      });
    }
    handlers.get(name).push(handler);
  }
  return source;
}

// ---------------------------------------------------------------------------- theme

const THEMES = ["auto", "light", "dark"];

function applyTheme(theme) {
  if (theme === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  const button = document.querySelector("[data-theme-toggle]");
  if (button) {
    button.textContent = { auto: "◐ Auto", light: "☀ Light", dark: "☾ Dark" }[theme];
    button.setAttribute("aria-label", `Theme: ${theme}. Switch theme`);
  }
}

function setupTheme() {
  let theme = localStorage.getItem("cto.theme") || "auto";
  applyTheme(theme);
  document.querySelector("[data-theme-toggle]")?.addEventListener("click", async () => {
    theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
    localStorage.setItem("cto.theme", theme);
    applyTheme(theme);
    const { rerenderCharts } = await import("./js/charts.js");
    rerenderCharts();
  });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", async () => {
    const { rerenderCharts } = await import("./js/charts.js");
    rerenderCharts();
  });
}

// ---------------------------------------------------------------------------- boot

async function boot() {
  setupTheme();
  if (document.querySelector("[data-chat]")) {
    const [{ setupChat }, { setupModal }] = await Promise.all([import("./js/chat.js"), import("./js/ui.js")]);
    setupChat();
    setupModal();
  }
  const pages = { dashboard: "./js/dashboard.js", timeline: "./js/timeline.js", health: "./js/health.js", settings: "./js/settings.js", reports: "./js/reports.js", documents: "./js/documents.js", alerts: "./js/alerts.js" };
  for (const [name, module] of Object.entries(pages)) {
    if (document.querySelector(`[data-${name}]`)) await import(module);
  }
  if (document.querySelector("[data-command-center]")) {
    // The empty-store page: show the dashboard as soon as a sync brings data.
    listen({ sync_finished: () => window.location.reload() });
  }
}

boot();

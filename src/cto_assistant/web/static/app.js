// CTO Assistant — browser side. An ES module, no dependencies, no inline script (strict CSP).

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

/** Listen to server-sent events; handlers is a map of event name to function. */
export function listen(handlers) {
  const status = document.querySelector("[data-live-status]");
  const source = new EventSource("/api/events");
  const setLive = (live) => {
    if (!status) return;
    status.textContent = live ? "live" : "offline";
    status.classList.toggle("is-live", live);
  };
  source.addEventListener("ready", () => setLive(true));
  source.addEventListener("error", () => setLive(false));
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => handler(JSON.parse(event.data)));
  }
  return source;
}

if (document.querySelector("[data-command-center]")) {
  // Until the dashboard exists, a finished sync simply reloads the shell.
  listen({ sync_finished: () => window.location.reload() });
}

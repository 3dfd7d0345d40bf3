// The data-health page: per source what was synced and when, errors, and the set-up problems
// that make metrics wrong, each with how to fix it.

import { api, listen } from "../app.js";
import { clear, h, table } from "./ui.js";

const root = document.querySelector("[data-health]");

async function load() {
  const response = await api("/api/data-health");
  const body = await response.json();
  const sources = body.freshness?.data?.sources || [];
  clear(root.querySelector("[data-health-sources]")).append(sources.length
    ? table(sources.map((s) => ({ ...s, failing_streams: s.failing_streams.join(", ") })), {
      columns: ["source", "kind", "state", "last_success_at", "age", "records", "streams", "failing_streams", "last_error", "fix"],
    })
    : h("p", { class: "empty-state" }, body.freshness?.summary || "No source configured."));
  const findings = body.setup?.data?.findings || [];
  clear(root.querySelector("[data-health-findings]")).append(...findings.map((f) =>
    h("article", { class: ["card", "finding", f.count ? "has-problem" : "is-clean"], dataset: { check: f.check } },
      h("h3", {}, f.check.replace(/_/g, " ")),
      h("p", { class: "finding-count" }, f.count ? `${f.count} of ${f.total}` : `none of ${f.total}`),
      f.count ? h("p", {}, h("strong", {}, "Fix: "), f.fix) : h("p", { class: "muted" }, "No problem found."),
      f.examples?.length ? h("p", { class: "muted small" }, "e.g. ", f.examples.join(" · ")) : null)));
  root.dataset.ready = "true";
}

load();
listen({ sync_finished: load });

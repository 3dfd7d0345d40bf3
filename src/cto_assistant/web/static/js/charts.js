// Vega-Lite charts from the tools, rendered by the vega-embed bundle we serve ourselves
// (/api/charts/vega-embed.js, built from the vl-convert-python wheel). The page's CSP has no
// 'unsafe-eval', so Vega runs with its CSP-safe expression interpreter (`ast: true`: vega-embed
// then uses the expression interpreter it bundles instead of `new Function`),
// the canvas renderer (no inline style attributes) and tooltips without injected styles.

let bundle = null;

function loadBundle() {
  bundle ??= import("/api/charts/vega-embed.js");
  return bundle;
}

function themeConfig() {
  const css = getComputedStyle(document.documentElement);
  const text = css.getPropertyValue("--text").trim() || "#1b1f24";
  const muted = css.getPropertyValue("--muted").trim() || "#5c6670";
  const grid = css.getPropertyValue("--border").trim() || "#d8dde3";
  return {
    background: null,
    font: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
    title: { color: text, fontSize: 12, fontWeight: 600, anchor: "start" },
    axis: { labelColor: muted, titleColor: muted, gridColor: grid, domainColor: grid, tickColor: grid, labelFontSize: 10, titleFontSize: 10 },
    legend: { labelColor: muted, titleColor: muted, labelFontSize: 10, titleFontSize: 10, orient: "bottom" },
    view: { stroke: null },
    range: { category: ["#4c78d8", "#e8864a", "#3aa57a", "#d64545", "#8e6cd1", "#c9a227", "#2aa3b8", "#9c6b4e"] },
  };
}

const rendered = new Set();

/** Render a Vega-Lite spec into `el`, sized to it; returns the Vega view (or null on failure). */
export async function renderChart(el, spec, { compact = false, onClick } = {}) {
  if (!spec) return null;
  const { vegaEmbed } = await loadBundle();
  const box = Math.round(el.getBoundingClientRect().height);
  const sized = { ...spec, width: "container", height: compact ? Math.max(70, box - 10) : spec.height ?? 260, autosize: { type: "fit", contains: "padding" } };
  sized.config = { ...themeConfig(), ...(spec.config || {}) };
  if (compact) {
    delete sized.title;
    sized.config.legend = { ...sized.config.legend, orient: "top", title: null, symbolSize: 40, padding: 0 };
  }
  try {
    const result = await vegaEmbed(el, sized, {
      actions: false,
      renderer: "canvas",
      ast: true, // vega-embed then evaluates expressions with its bundled interpreter (no eval)
      defaultStyle: false,
      tooltip: { disableDefaultStyle: true, theme: "custom" },
    });
    el.__vegaSpec = spec;
    el.__vegaOptions = { compact, onClick };
    rendered.add(el);
    if (onClick) {
      result.view.addEventListener("click", (_event, item) => { if (item && item.datum) onClick(item.datum); });
    }
    return result.view;
  } catch (error) {
    el.textContent = `Chart could not be drawn: ${error.message}`;
    el.classList.add("chart-error");
    return null;
  }
}

/** Re-render every chart (after a theme change). */
export function rerenderCharts() {
  for (const el of [...rendered]) {
    if (!el.isConnected) { rendered.delete(el); continue; }
    renderChart(el, el.__vegaSpec, el.__vegaOptions);
  }
}

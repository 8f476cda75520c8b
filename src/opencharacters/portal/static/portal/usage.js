/** Usage: sessions and minutes per day (GET /v1/avatar_usage), as inline SVG bar charts. */

import { api } from "./api.js";
import { h, pageHead, number, formatDuration } from "./ui.js";

const DAY = 86400000;

function isoDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A bar chart with a y-axis maximum, a few date labels and a <title> per bar. */
function barChart({ id, title, days, value, unit, color, integer = false }) {
  const width = 720;
  const height = 200;
  const left = 44;
  const bottom = 24;
  const top = 12;
  const values = days.map(value);
  const max = Math.max(1, ...values);
  const niceMax = max <= 5 ? Math.ceil(max) : Math.ceil(max / 5) * 5;
  const plotW = width - left - 8;
  const plotH = height - top - bottom;
  const step = plotW / days.length;
  const svg = h(
    "svg:svg",
    { viewBox: `0 0 ${width} ${height}`, class: "chart", id, role: "img", "aria-labelledby": `${id}-title` },
    h("svg:title", { id: `${id}-title` }, title),
  );
  for (const fraction of integer && niceMax < 2 ? [0, 1] : [0, 0.5, 1]) {
    const y = top + plotH * (1 - fraction);
    svg.append(
      h("svg:line", { x1: left, x2: width - 8, y1: y, y2: y, class: "grid" }),
      h("svg:text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "axis" }, number.format(Math.round(niceMax * fraction * 10) / 10)),
    );
  }
  const labelEvery = Math.ceil(days.length / 8);
  days.forEach((day, i) => {
    const v = value(day);
    const barH = (v / niceMax) * plotH;
    const x = left + i * step + step * 0.15;
    svg.append(
      h(
        "svg:rect",
        { x, y: top + plotH - barH, width: Math.max(1, step * 0.7), height: Math.max(v > 0 ? 1 : 0, barH), rx: 2, fill: color, "data-date": day.date, "data-value": v },
        h("svg:title", {}, `${day.date}: ${number.format(Math.round(v * 10) / 10)} ${unit}`),
      ),
    );
    if (i % labelEvery === 0) {
      svg.append(h("svg:text", { x: left + i * step + step / 2, y: height - 6, "text-anchor": "middle", class: "axis" }, day.date.slice(5)));
    }
  });
  return h("figure", { class: "panel chart-box" }, h("figcaption", {}, title), svg);
}

export async function page(main) {
  const range = h("select", { id: "usage-range" }, [7, 30, 90].map((n) => h("option", { value: n, selected: n === 30 }, `Last ${n} days`)));
  const out = h("div", { id: "usage" });
  main.append(pageHead("Usage", h("label", { for: "usage-range", class: "visually-hidden" }, "Period"), range), out);

  async function load() {
    const days = Number(range.value);
    const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
    const start = isoDay(today - (days - 1) * DAY);
    const end = isoDay(today + DAY);
    const usage = await api("GET", `/v1/avatar_usage?startDate=${start}T00:00:00Z&endDate=${end}T00:00:00Z`);
    const stat = (label, value) => h("div", { class: "stat panel" }, h("span", { class: "stat-value" }, value), h("span", { class: "muted" }, label));
    out.replaceChildren(
      h("div", { class: "stats" }, stat("sessions", number.format(usage.totalSessions)), stat("minutes", number.format(Math.round(usage.totalSeconds / 6) / 10)), stat("average call", formatDuration(usage.avgDurationSeconds))),
      barChart({ id: "sessions-chart", title: "Sessions per day (UTC)", days: usage.byDay, value: (d) => d.sessions, unit: "sessions", color: "var(--accent)", integer: true }),
      barChart({ id: "minutes-chart", title: "Minutes per day (UTC)", days: usage.byDay, value: (d) => d.seconds / 60, unit: "minutes", color: "var(--accent-2)" }),
      h(
        "details",
        { class: "panel" },
        h("summary", {}, "The same as a table"),
        h(
          "table",
          { class: "data" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Date"), h("th", { scope: "col" }, "Sessions"), h("th", { scope: "col" }, "Minutes"))),
          h("tbody", {}, usage.byDay.map((d) => h("tr", {}, h("td", {}, d.date), h("td", {}, d.sessions), h("td", {}, (d.seconds / 60).toFixed(1))))),
        ),
      ),
    );
  }
  range.addEventListener("change", () => load());
  await load();
  return null;
}

// Crenel dashboard: renders the collector's JSON reports. Everything that came from a
// measurement (domains, titles, URLs, methods) is attacker-controlled: it is only ever put into
// the page with textContent or as an encoded URL component, never as HTML.
"use strict";

const app = document.getElementById("app");
const crumbs = document.getElementById("crumbs");
const originSelect = document.getElementById("origin");
// Whose measurements the reports count (the API's `origin`): kept in the page's query string so
// links and reloads keep it. Only the select's own values are used, never the raw parameter.
const ORIGINS = ["crenel", "ooni"];
const requested = new URLSearchParams(location.search).get("origin");
const origin = ORIGINS.includes(requested) ? requested : "";
originSelect.value = origin;
originSelect.addEventListener("change", () => {
  const params = new URLSearchParams(location.search);
  if (originSelect.value) params.set("origin", originSelect.value);
  else params.delete("origin");
  const query = params.toString();
  location.assign(location.pathname + (query ? "?" + query : ""));
});

function withOrigin(path) {
  return origin ? path + (path.includes("?") ? "&" : "?") + "origin=" + origin : path;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key === "href") node.setAttribute("href", value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function badge(verdict) {
  const slug = String(verdict).replace(/[^a-z]+/g, "-");
  return el("span", { class: "badge v-" + slug, "data-verdict": verdict }, verdict);
}

// Floor, not round: 0.996 is shown as 99%, never as a certainty the data does not give.
function pct(x) { return x === null || x === undefined ? "–" : Math.floor(x * 100) + "%"; }
function methodsText(methods) {
  const entries = Object.entries(methods || {});
  return entries.length ? entries.map(([m, n]) => m + " ×" + n).join(", ") : "–";
}

async function getJson(path) {
  const response = await fetch(withOrigin(path), { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(path + " answered " + response.status);
  return response.json();
}

function setCrumbs(parts) {
  crumbs.replaceChildren();
  parts.forEach(([label, href], i) => {
    if (i) crumbs.append(" / ");
    crumbs.append(href ? el("a", { href }, label) : el("span", {}, label));
  });
}

function table(headers, rows, id) {
  const head = el("tr", {}, ...headers.map(([h, cls]) => el("th", cls ? { class: cls } : {}, h)));
  const body = el("tbody", {}, ...rows);
  return el("div", { class: "scroll" }, el("table", id ? { id } : {}, el("thead", {}, head), body));
}

function countryHref(cc) { return withOrigin("/dashboard/country/" + encodeURIComponent(cc)); }
function domainHref(cc, domain) {
  return withOrigin("/dashboard/country/" + encodeURIComponent(cc) + "/domain/" + encodeURIComponent(domain));
}

async function overview() {
  setCrumbs([["Countries", null]]);
  const data = await getJson("/api/v1/reports");
  const countries = data.countries || [];
  const rows = countries.map((c) => el("tr", { "data-cc": c.cc },
    el("td", {}, el("a", { href: countryHref(c.cc) }, c.cc)),
    el("td", { class: "num" }, c.blocked),
    el("td", { class: "num" }, c.mixed),
    el("td", { class: "num" }, c.domains),
    el("td", { class: "num" }, c.networks),
    el("td", { class: "num" }, c.measurements),
    el("td", {}, c.last_day || "–")));
  app.replaceChildren(
    el("h1", {}, "Where websites are blocked"),
    el("p", { class: "muted" }, "Countries ranked by the number of domains found blocked."),
    countries.length ? table([["Country"], ["Blocked", "num"], ["Mixed", "num"], ["Domains", "num"],
      ["Networks", "num"], ["Measurements", "num"], ["Last data"]], rows, "countries")
      : emptyState());
}

// What a collector with no data says: how to get some.
function emptyState() {
  const here = location.origin;
  return el("div", { id: "empty", class: "empty" },
    el("p", {}, "No measurements yet. Reports appear here once probes upload to this collector."),
    el("p", {}, "On a computer in the network you want to test, install the probe and point it here:"),
    el("pre", {}, "crenel-probe config set collector " + here + "\ncrenel-probe run"),
    el("p", {}, "Or import OONI's published measurements on the collector's machine: ",
      el("code", {}, "crenel-collector import-ooni FILES"), "."),
    el("p", {}, el("a", { href: "/dashboard/methodology" }, "How measurements become verdicts")));
}

// "blocked in AS1, AS2; not in AS3": where a mixed verdict comes from.
function whereText(networks) {
  const named = (v) => (networks || []).filter((n) => n.verdict === v).map((n) => "AS" + n.asn);
  const parts = [];
  const blocked = named("blocked"), partly = named("mixed"), clear = named("not blocked");
  if (blocked.length) parts.push("blocked in " + blocked.join(", "));
  if (partly.length) parts.push("partly blocked in " + partly.join(", "));
  if (clear.length) parts.push("not blocked in " + clear.join(", "));
  return parts.join("; ");
}

async function country(cc) {
  setCrumbs([["Countries", withOrigin("/dashboard/")], [cc, null]]);
  const [report, changes] = await Promise.all([
    getJson("/api/v1/reports/" + encodeURIComponent(cc)),
    getJson("/api/v1/changes?cc=" + encodeURIComponent(cc)),
  ]);
  const networks = report.networks || [];
  const blocked = report.domains.filter((d) => d.verdict === "blocked").length;
  const mixed = report.domains.filter((d) => d.verdict === "mixed").length;
  const cards = el("div", { class: "cards" },
    card("Blocked domains", blocked, "blocked-count"), card("Mixed", mixed, "mixed-count"),
    card("Networks", networks.length, "network-count"),
    card("Measurements", report.measurements, "measurement-count"));
  // Columns: the networks with enough data to decide for at least one domain.
  const decided = new Set(report.domains.flatMap((d) => (d.networks || []).map((n) => n.asn)));
  const columns = networks.filter((n) => decided.has(n.asn));
  const headers = [["Domain"], ["Verdict"], ["Confidence", "num"], ["Since"], ["Methods"]]
    .concat(columns.map((n) => ["AS" + n.asn + (n.name ? " " + n.name : "")]));
  const rows = report.domains.map((d) => {
    const byAsn = new Map((d.networks || []).map((n) => [n.asn, n]));
    return el("tr", { "data-domain": d.domain },
      el("td", {}, el("a", { href: domainHref(cc, d.domain) }, d.domain)),
      el("td", {}, badge(d.verdict),
        d.verdict === "mixed" ? el("div", { class: "where muted" }, whereText(d.networks)) : null),
      el("td", { class: "num" }, pct(d.confidence)),
      el("td", {}, d.since || "–"),
      el("td", { class: "methods" }, methodsText(d.methods)),
      ...columns.map((n) => {
        const cell = byAsn.get(n.asn);
        if (!cell) return el("td", {}, "–");
        return el("td", { title: cell.measurements + " measurements, " + cell.probes + " probes" },
          el("span", { class: "cell badge v-" + cell.verdict.replace(/[^a-z]+/g, "-"), "data-verdict": cell.verdict },
            cell.weighted_share === null ? cell.verdict : pct(cell.weighted_share)));
      }));
  });
  const changeRows = (changes.changes || []).map((c) => el("tr", {},
    el("td", {}, c.day), el("td", {}, el("a", { href: domainHref(cc, c.domain) }, c.domain)),
    el("td", {}, badge(c.before)), el("td", {}, badge(c.after))));
  app.replaceChildren(
    el("h1", {}, "Blocking in " + cc),
    el("p", { class: "muted" }, "From " + (report.since || "the start") + " to " + (report.until || "now") + "."),
    cards,
    el("h2", {}, "Domains × networks"),
    table(headers, rows, "matrix"),
    el("h2", {}, "Changes"),
    changeRows.length ? table([["Day"], ["Domain"], ["Before"], ["After"]], changeRows, "changes")
      : el("p", { class: "muted" }, "No verdict changed in this period."));
}

function card(label, value, id) {
  return el("div", { class: "card" }, el("div", { class: "n", id }, value), el("div", { class: "muted" }, label));
}

async function domain(cc, name) {
  setCrumbs([["Countries", withOrigin("/dashboard/")], [cc, countryHref(cc)], [name, null]]);
  const data = await getJson("/api/v1/reports/" + encodeURIComponent(cc) + "/domains/" + encodeURIComponent(name));
  const summary = data.summary;
  const chartBox = el("div", { class: "chart", id: "timeline" });
  const evidence = el("ul", { class: "plain", id: "evidence" },
    ...(data.fingerprints || []).map((f) => el("li", {}, "fingerprint " + f.name + " matched " + f.count + " times")),
    el("li", {}, summary.confirmed + " measurements confirmed by a blockpage fingerprint or a known forged address"),
    el("li", {}, summary.packet_confirmed + " measurements confirmed by packet evidence (an injected reset, DNS answer or bait answer)"));
  const sampleRows = (data.samples || []).map((s) => el("tr", {},
    el("td", {}, s.start_time), el("td", {}, "AS" + s.asn), el("td", {}, badge(s.verdict)),
    el("td", { class: "methods" }, (s.methods || []).join(", ") || "–"),
    el("td", {}, el("a", { href: "/api/v1/measurements/" + encodeURIComponent(s.uid) }, s.uid))));
  const networkRows = (summary.networks || []).map((n) => el("tr", {},
    el("td", {}, "AS" + n.asn), el("td", {}, badge(n.verdict)), el("td", { class: "num" }, pct(n.confidence)),
    el("td", { class: "num" }, pct(n.weighted_share)), el("td", { class: "num" }, n.measurements),
    el("td", { class: "num" }, n.probes), el("td", { class: "methods" }, methodsText(n.methods))));
  app.replaceChildren(
    el("h1", {}, name + " in " + cc),
    el("p", { id: "verdict" }, badge(summary.verdict), " confidence " + pct(summary.confidence) +
      (summary.since ? ", blocked since " + summary.since : "") +
      (summary.verdict === "mixed" ? ": " + whereText(summary.networks) : "")),
    el("h2", {}, "Verdict per day"), dayStrip(data.timeline || []),
    el("h2", {}, "Blocked share per network, per day"), chartBox,
    el("h2", {}, "Networks"),
    table([["Network"], ["Verdict"], ["Confidence", "num"], ["Blocked share", "num"], ["Measurements", "num"], ["Probes", "num"], ["Methods"]], networkRows, "networks"),
    el("h2", {}, "Evidence"), evidence,
    el("h2", {}, "Sample measurements"),
    sampleRows.length ? table([["Time"], ["Network"], ["Verdict"], ["Methods"], ["Raw"]], sampleRows, "samples")
      : el("p", { class: "muted" }, "None."));
  drawTimeline(chartBox, data.timeline || []);
}

const LEGEND = [
  ["blocked", "blocked"],
  ["mixed", "mixed: blocked in some networks (or on some days), not in others"],
  ["not blocked", "not blocked"],
  ["insufficient data", "insufficient data: too few measurements that day (or none) to decide"],
];

// One cell per day of the window, coloured by that day's verdict, with a legend: days with too
// little data show as such instead of disappearing.
function dayStrip(timeline) {
  const cells = timeline.map((d) => el("li", {
    class: "day v-" + d.verdict.replace(/[^a-z]+/g, "-"), "data-verdict": d.verdict, "data-day": d.day,
    title: d.day + ": " + d.verdict + " (" + d.measurements + " measurements)",
  }, el("span", { class: "label" }, d.day.slice(5))));
  const legend = el("ul", { class: "legend", id: "legend" }, ...LEGEND.map(([verdict, text]) =>
    el("li", {}, el("span", { class: "swatch v-" + verdict.replace(/[^a-z]+/g, "-") }), text)));
  return el("div", { class: "days-box" }, el("ol", { class: "days", id: "days" }, ...cells), legend);
}

function drawTimeline(box, timeline) {
  if (!timeline.length || typeof uPlot === "undefined") {
    box.append(el("p", { class: "muted" }, "No daily data."));
    return;
  }
  const asns = [...new Set(timeline.flatMap((d) => d.networks.map((n) => n.asn)))].sort((a, b) => a - b);
  const xs = timeline.map((d) => Date.parse(d.day + "T00:00:00Z") / 1000);
  const series = asns.map((asn) => timeline.map((d) => {
    const n = d.networks.find((x) => x.asn === asn);
    return n && n.share !== null ? Math.round(n.share * 100) : null;
  }));
  const palette = ["#c0392b", "#2471a3", "#229954", "#d68910", "#7d3c98", "#17a589"];
  const width = Math.max(280, Math.min(box.clientWidth || 800, 1100));
  // Room on every side for the labels: the first and last dates are centred on the plot's
  // edges and the y axis carries its title, so neither is ever cut off.
  const opts = {
    width, height: 260,
    padding: [12, 48, 0, 8],
    scales: { y: { range: [0, 100] } },
    axes: [
      { space: 90, size: 40, incrs: [86400, 7 * 86400, 30 * 86400],
        values: (u, splits) => splits.map((s) => new Date(s * 1000).toISOString().slice(0, 10)) },
      { label: "% blocked", size: 56, labelSize: 24 },
    ],
    series: [{}].concat(asns.map((asn, i) => ({ label: "AS" + asn, stroke: palette[i % palette.length], width: 2, spanGaps: true }))),
  };
  new uPlot(opts, [xs, ...series], box);
}

// The regional-verdict rules, from docs/methodology.md (copied by scripts/generate_docs.py),
// shown as text: headings, paragraphs and list items, never as HTML.
async function methodology() {
  setCrumbs([["Countries", withOrigin("/dashboard/")], ["Methodology", null]]);
  const response = await fetch("/dashboard/static/methodology.md");
  if (!response.ok) throw new Error("the methodology answered " + response.status);
  const blocks = (await response.text()).split(/\n\s*\n/);
  const plain = (text) => text.replace(/\*\*|`/g, "").replace(/\s*\n\s*/g, " ").trim();
  app.replaceChildren(el("article", { id: "methodology" }, ...blocks.map((block) => {
    const heading = block.match(/^(#+)\s+(.*)$/);
    if (heading) return el(heading[1].length <= 2 ? "h1" : "h2", {}, plain(heading[2]));
    if (/^(\d+\.|-) /.test(block)) {
      const items = block.split(/\n(?=\d+\. |- )/).map((item) => el("li", {}, plain(item.replace(/^(\d+\.|-) /, ""))));
      return el(/^\d/.test(block) ? "ol" : "ul", {}, ...items);
    }
    return el("p", {}, plain(block));
  })));
}

async function route() {
  const parts = location.pathname.replace(/\/+$/, "").split("/").slice(2).map(decodeURIComponent);
  try {
    if (parts.length === 0) await overview();
    else if (parts[0] === "methodology" && parts.length === 1) await methodology();
    else if (parts[0] === "country" && parts.length === 2) await country(parts[1]);
    else if (parts[0] === "country" && parts[2] === "domain" && parts.length === 4) await domain(parts[1], parts[3]);
    else app.replaceChildren(el("p", { class: "error" }, "No such page."));
  } catch (error) {
    app.replaceChildren(el("p", { class: "error" }, "Could not load the report: " + error.message));
  }
  document.body.dataset.ready = "1";
}

route();

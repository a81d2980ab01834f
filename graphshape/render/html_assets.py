"""The pages' stylesheet and scripts, inline (no network: a page is one file that works from
a file:// URL). System fonts, light and dark from the reader's setting, print styles.

``SCRIPT`` decides a typed size from the data ``html_data`` embeds: BigInt arithmetic with
Python's floor, ceil and mod, the conditions evaluated in graphshape's order, pad and crop
searched exactly over the domain's boxes."""

from __future__ import annotations

__all__ = ["STYLE", "HELPERS", "SCRIPT", "INDEX_SCRIPT"]

STYLE = """
:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1c2126; --muted: #59636e; --line: #d5dbe1; --card: #f5f7f9;
  --valid: #1f7a3a; --run: #3aa35a; --invalid: #b42318; --plane: #e3e7eb;
  --unproven: #9a5b00; --accent: #0a5cc2; --mark: #111418; --hl: #fff4d6;
  --fail: #fde8e6;
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Noto Sans", "Liberation Sans", sans-serif;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono",
    "DejaVu Sans Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #101317; --fg: #e4e8ec; --muted: #9aa5b1; --line: #2c343d; --card: #181d23;
    --valid: #5fd07f; --run: #2f9c52; --invalid: #ff7a6e; --plane: #262d35;
    --unproven: #f2b14c; --accent: #74b4ff; --mark: #f4f6f8; --hl: #3a3220;
    --fail: #45201d;
  }
}
* { box-sizing: border-box; }
html { background: var(--bg); color: var(--fg); font: 15px/1.5 var(--sans); }
body { margin: 0 auto; max-width: 1180px; padding: 0 24px 48px; }
header.top { padding: 28px 0 12px; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.6rem; margin: 0 0 6px; display: flex; gap: 12px; align-items: center;
  flex-wrap: wrap; }
h2 { font-size: 1.2rem; margin: 36px 0 10px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 22px 0 8px; }
p { margin: 8px 0; }
a { color: var(--accent); }
code, pre, .mono { font-family: var(--mono); font-size: 0.86em; }
pre { background: var(--card); border: 1px solid var(--line); border-radius: 6px;
  padding: 10px 12px; overflow-x: auto; white-space: pre; }
.muted { color: var(--muted); }
.badge { font-size: 0.8rem; font-weight: 600; padding: 2px 10px; border-radius: 999px;
  border: 1px solid currentColor; letter-spacing: 0.02em; }
.badge.valid, .v-valid { color: var(--valid); }
.badge.invalid, .v-invalid { color: var(--invalid); }
.badge.unproven, .v-unproven { color: var(--unproven); }
.badge.error { color: var(--invalid); }
.verdict { font-size: 1.08rem; margin: 10px 0 14px; max-width: 62em; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; font-family: var(--mono); font-size: 0.88em; overflow-wrap: anywhere; }
nav.toc { display: flex; flex-wrap: wrap; gap: 4px 18px; padding: 10px 0;
  border-bottom: 1px solid var(--line); font-size: 0.92rem; }
nav.toc a { text-decoration: none; }
.region-grid { display: grid; grid-template-columns: minmax(0, 1fr) 330px; gap: 24px;
  align-items: start; }
@media (max-width: 900px) { .region-grid { grid-template-columns: 1fr; } }
figure { margin: 0; position: relative; }
figcaption { font-size: 0.88rem; color: var(--muted); margin-top: 6px; }
svg.region { width: 100%; height: auto; display: block; font-family: var(--sans);
  font-size: 12px; touch-action: none; }
svg.region .plane { fill: var(--plane); }
svg.region .run { fill: var(--run); }
svg.region .run:hover { fill: var(--valid); }
svg.region .grid line { stroke: var(--bg); stroke-opacity: 0.55; stroke-width: 1; }
svg.region .frame { fill: none; stroke: var(--line); }
svg.region .axes text { fill: var(--muted); }
svg.region .axes .axis-name { fill: var(--fg); font-weight: 600; }
svg.region .run-label { fill: var(--fg); font-size: 11px; paint-order: stroke;
  stroke: var(--bg); stroke-width: 3px; stroke-linejoin: round; pointer-events: none; }
svg.region .mark circle { fill: none; stroke: var(--mark); stroke-width: 2.2; }
svg.region .mark text { fill: var(--fg); font-weight: 600; paint-order: stroke;
  stroke: var(--bg); stroke-width: 3px; stroke-linejoin: round; }
svg.region .point.ran circle { fill: var(--fg); }
svg.region .point.refused path { stroke: var(--invalid); stroke-width: 1.6; }
svg.region .point.disagree { stroke: var(--invalid); stroke-width: 2.5; }
svg.region .probe, svg.region .mark, svg.region .axes { pointer-events: none; }
svg.region .probe line { stroke: var(--accent); stroke-width: 1; stroke-dasharray: 4 3; }
svg.region .probe circle { fill: none; stroke: var(--accent); stroke-width: 2; }
svg.region .probe.invalid circle { stroke: var(--invalid); }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 0.86rem;
  color: var(--muted); margin-top: 6px; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px;
  vertical-align: -1px; margin-right: 5px; }
.legend .dot { color: var(--fg); } .legend .cross { color: var(--invalid); }
.swatch.run { background: var(--run); } .swatch.plane { background: var(--plane);
  border: 1px solid var(--line); }
#tip { position: absolute; pointer-events: none; background: var(--bg); color: var(--fg);
  border: 1px solid var(--line); border-radius: 6px; padding: 4px 8px; font-size: 0.82rem;
  box-shadow: 0 2px 10px rgba(0, 0, 0, 0.18); max-width: 320px; display: none; z-index: 2; }
.panel { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 14px 16px; }
.panel h3 { margin-top: 0; }
form.probe { display: flex; flex-wrap: wrap; gap: 8px 10px; align-items: end; }
form.probe label { display: flex; flex-direction: column; font-size: 0.82rem;
  color: var(--muted); }
form.probe input { width: 6.5em; font: inherit; font-family: var(--mono); padding: 4px 6px;
  border: 1px solid var(--line); border-radius: 5px; background: var(--bg); color: var(--fg); }
form.probe button { font: inherit; padding: 5px 14px; border-radius: 5px; cursor: pointer;
  border: 1px solid var(--accent); background: var(--accent); color: var(--bg); }
.result { margin-top: 12px; font-size: 0.92rem; }
.result .head { font-size: 1.05rem; }
.result ol, .result ul { padding-left: 1.2em; margin: 6px 0; }
.result li { margin: 4px 0; }
.result code { overflow-wrap: anywhere; }
.result code.cmd { display: block; white-space: pre-wrap; overflow-wrap: break-word;
  word-break: normal; background: var(--bg); border: 1px solid var(--line);
  border-radius: 5px; padding: 4px 8px; user-select: all; }
.result code.cmd .arg { white-space: nowrap; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.88rem; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { font-weight: 600; background: var(--card); position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.shape { font-family: var(--mono); font-size: 0.84em; max-width: 34em;
  overflow-wrap: anywhere; }
td.at { font-family: var(--mono); font-size: 0.84em; white-space: nowrap; }
tr.binds td { background: var(--hl); }
tr.fails td { background: var(--fail); }
tr.fails td:first-child { box-shadow: inset 4px 0 var(--invalid); }
tr.binds td:first-child { box-shadow: inset 4px 0 var(--unproven); }
tr.binds.fails td:first-child { box-shadow: inset 4px 0 var(--invalid); }
td.nowrap, th { white-space: nowrap; }
.role { font-weight: 600; }
ul.findings li { margin: 6px 0; }
.level { font-size: 0.78rem; font-weight: 700; text-transform: uppercase;
  letter-spacing: 0.04em; margin-right: 6px; }
.level.warning { color: var(--unproven); } .level.info { color: var(--muted); }
.level.unproven { color: var(--invalid); }
.why li { margin: 8px 0; }
details summary { cursor: pointer; margin: 8px 0; }
@media print { details > * { display: block; } }
.why .detail { color: var(--muted); font-size: 0.9em; }
footer { margin-top: 40px; font-size: 0.82rem; color: var(--muted);
  border-top: 1px solid var(--line); padding-top: 10px; }
.filters { display: flex; gap: 10px 18px; flex-wrap: wrap; align-items: center;
  margin: 14px 0; }
.filters input[type=search] { font: inherit; padding: 4px 8px; min-width: 18em;
  border: 1px solid var(--line); border-radius: 5px; background: var(--bg); color: var(--fg); }
th.sortable { cursor: pointer; user-select: none; }
th.sortable::after { content: " \\2195"; color: var(--muted); font-weight: 400; }
th[aria-sort=ascending]::after { content: " \\2191"; }
th[aria-sort=descending]::after { content: " \\2193"; }
tr.regression td { background: var(--fail); }
td.change { font-size: 0.86em; max-width: 28em; }
.clamp { display: -webkit-box; -webkit-box-orient: vertical; -webkit-line-clamp: 3;
  overflow: hidden; max-width: 44em; }
@media print { .clamp { display: block; -webkit-line-clamp: none; } }
@media print {
  :root { color-scheme: light; --bg: #fff; --fg: #000; --muted: #444; --line: #bbb;
    --card: #f3f3f3; --plane: #e6e6e6; --run: #3aa35a; --hl: #fff4d6; --fail: #fde8e6;
    --valid: #1f7a3a; --invalid: #b42318; --unproven: #9a5b00; --accent: #0a5cc2;
    --mark: #111418; }
  html { font-size: 10.5pt; }
  body { max-width: none; padding: 0; }
  nav.toc, form.probe, .noprint, #tip, svg.region .probe { display: none !important; }
  .region-grid { grid-template-columns: 1fr; }
  section { break-inside: auto; }
  h2, h3 { break-after: avoid; }
  tr, figure, pre { break-inside: avoid; }
  th { position: static; }
  a { color: inherit; text-decoration: none; }
}
"""

# globals the compiled expressions call (html_data.js_expr): Python's floor division,
# ceil division, mod, min and max on BigInt
HELPERS = """
"use strict";
function F(a, b) { let q = a / b; if (a % b !== 0n && (a < 0n) !== (b < 0n)) q -= 1n; return q; }
function C(a, b) { return -F(-a, b); }
function M(a, b) { return a - b * F(a, b); }
function MIN(...xs) { return xs.reduce((x, y) => (y < x ? y : x)); }
function MAX(...xs) { return xs.reduce((x, y) => (y > x ? y : x)); }
"""

SCRIPT = r"""
(function () {
  const D = JSON.parse(document.getElementById("gs-data").textContent);
  const $ = (sel) => document.querySelector(sel);
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const k of kids) e.append(k);
    return e;
  };
  const fmt = (s, names) => names.map((n) => n + "=" + s[n]).join(", ");

  // ---- exact decisions (the same order and arithmetic as graphshape) ----
  function side(x, s) {
    if (x.n !== undefined) return BigInt(x.n);
    if (x.f === null || x.f === undefined) throw new Error("not compiled");
    const v = GS_EXPR[x.f](s);
    if (typeof v !== "bigint") throw new Error("unbound");
    return v;
  }
  function evalCond(c, s) {
    if (c.k === "OR" || c.k === "AND") {
      const rs = c.p.map((p) => evalCond(p, s));
      const any = (b) => rs.some((r) => r.ok === b);
      const ok = c.k === "OR" ? (any(true) ? true : any(null) ? null : false)
                              : (any(false) ? false : any(null) ? null : true);
      return { ok, nums: rs.map((r) => r.nums).join(c.k === "OR" ? " or " : " and ") };
    }
    let a, b;
    try { a = side(c.l, s); b = side(c.r, s); } catch (e) { return { ok: null, nums: "" }; }
    const lt = c.l.t !== undefined ? c.l.t : c.l.n;
    if (c.k === "EQ") return { ok: a === b, nums: `${lt} = ${a} ${a === b ? "==" : "!="} ${b}` };
    if (c.k === "GE") return { ok: a >= b, nums: `${lt} = ${a} ${a >= b ? ">=" : "<"} ${b}` };
    const ok = M(a, b) === 0n;
    return { ok, nums: `${lt} = ${a} ${ok ? "is" : "is not"} a multiple of ${b}` };
  }
  function decide(s) {
    if (D.impossible.length) return { verdict: "invalid", violations: D.impossible };
    const viol = [], unknown = [];
    for (const c of D.conds) {
      const r = evalCond(c.c, s);
      if (r.ok === false) viol.push(Object.assign({ numbers: r.nums }, c));
      else if (r.ok === null) unknown.push(c);
    }
    if (viol.length) return { verdict: "invalid", violations: viol };
    if (unknown.length) return { verdict: "unproven", why: unknown.map((c) =>
      `this page cannot evaluate ${c.op} '${c.node}': ${c.text} (graphshape check decides it)`) };
    if (!D.exact) return { verdict: "unproven", why: D.unproven };
    return { verdict: "valid" };
  }
  function evalDims(shape, s) {
    if (!shape) return null;
    return shape.map((x) => { try { return String(side(x, s)); } catch (e) { return "?"; } });
  }

  // ---- nearest valid sizes over the boxes (exact: each box is a product) ----
  function above(f, v) {
    for (const [lo, hi] of f.runs) if (BigInt(hi) >= v) return BigInt(lo) > v ? BigInt(lo) : v;
    if (!f.res.length) return null;
    const st = BigInt(f.start), p = BigInt(f.period), x = v > st ? v : st;
    let best = null;
    for (const r of f.res) { const c = x + M(BigInt(r) - x, p); if (best === null || c < best) best = c; }
    return best;
  }
  function below(f, v) {
    const st = BigInt(f.start);
    if (f.res.length && v >= st) {
      const p = BigInt(f.period);
      let best = null;
      for (const r of f.res) {
        const c = v - M(v - BigInt(r), p);
        if (c >= st && (best === null || c > best)) best = c;
      }
      if (best !== null) return best;
    }
    for (let i = f.runs.length - 1; i >= 0; i--) {
      const [lo, hi] = f.runs[i];
      if (BigInt(lo) <= v) return BigInt(hi) < v ? BigInt(hi) : v;
    }
    return null;
  }
  const prod = (xs) => xs.reduce((a, b) => a * b, 1n);
  const lexLess = (a, b) => { for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i]; return false; };
  function nearest(req, up) {
    if (!D.boxes) return null;
    let best = null, bp = null;
    for (const box of D.boxes) {
      const pt = box.map((f, j) => (up ? above : below)(f, req[j]));
      if (pt.some((v) => v === null)) continue;
      const p = prod(pt);
      if (best === null || (up ? p < bp || (p === bp && lexLess(pt, best))
                                : p > bp || (p === bp && lexLess(best, pt)))) { best = pt; bp = p; }
    }
    return best;
  }
  function fitLines(s) {
    const names = D.names, req = names.map((n) => s[n]);
    if (!D.boxes) return null;
    const out = [], pr = Number(prod(req));
    // "3 × 9 (N=1, H=3, W=9)": the symbols the domain constrains, then every value
    const size = (pt) => pt.filter((v, j) => !D.free.includes(names[j])).map(String).join(" \u00d7 ") +
      " (" + names.map((n, j) => n + "=" + pt[j]).join(", ") + ")";
    const delta = (pt, sign) => names.map((n, j) => {
      const d = sign * Number(pt[j] - req[j]);
      if (!d) return null;
      const a = Math.floor(d / 2);
      return `${n} ${sign > 0 ? "+" : "\u2212"}${d} (${a} before, ${d - a} after)`;
    }).filter(Boolean).join(", ");
    const pad = nearest(req, true), crop = nearest(req, false);
    const tag = D.exact ? "" : " (unproven)";
    if (pad) out.push({ policy: "pad", sizes: pad, text: `pad to ${size(pad)}: ${delta(pad, 1)}; ${(100 * (Number(prod(pad)) / pr - 1)).toFixed(2)}% more elements${tag}` });
    else out.push({ policy: "pad", sizes: null, text: "no pad: no valid size is at or above the request on every axis" });
    if (crop) out.push({ policy: "crop", sizes: crop, text: `crop to ${size(crop)}: ${delta(crop, -1)}; ${(100 * (1 - Number(prod(crop)) / pr)).toFixed(2)}% of the elements dropped${tag}` });
    else out.push({ policy: "crop", sizes: null, text: "no crop: no valid size is at or below the request on every axis" });
    return out;
  }

  // ---- reading the form ----
  const form = $("#probe-form");
  function readSizes() {
    const s = {}, assumed = [];
    for (const n of D.names) {
      const raw = (form.elements[n].value || "").trim();
      if (raw === "" && D.free.includes(n)) { s[n] = 1n; assumed.push(n); continue; }
      if (!/^[0-9]+$/.test(raw)) return { error: `${n}: give a whole number` };
      const v = BigInt(raw);
      const least = BigInt(D.mins[n]);
      if (v < least || v > BigInt(D.maxSize)) return { error: `${n}=${raw} is out of range (${least} .. ${D.maxSize})` };
      s[n] = v;
    }
    return { s, assumed };
  }
  function command(verb, s) {
    // one unbreakable span per argument: a line may wrap between arguments, never in one
    const args = ["graphshape", verb, D.cmdModel].concat(D.cmdDims,
      D.names.map((n) => `--size ${n}=${s[n]}`));
    const code = el("code", { class: "cmd" });
    args.forEach((a, i) => code.append(i ? " " : "", el("span", { class: "arg" }, a)));
    return code;
  }

  // ---- showing a decision ----
  function show(s, assumed) {
    const r = decide(s), box = $("#probe-result");
    box.replaceChildren();
    const head = el("p", { class: "head" }, el("strong", { class: "v-" + r.verdict, "data-verdict": r.verdict }, r.verdict), " at ", el("code", {}, fmt(s, D.names)));
    box.append(head);
    if (assumed.length) box.append(el("p", { class: "muted" }, `${assumed.join(", ")} = 1 assumed: the domain does not constrain ${assumed.join(", ")}.`));
    if (r.verdict === "invalid") {
      const ol = el("ol", { class: "violations" });
      for (const v of r.violations) {
        const li = el("li", {}, el("strong", {}, `${v.op} '${v.node}'`), `: ${v.reason}`);
        if (v.numbers) li.append(el("br"), el("code", {}, v.numbers));
        ol.append(li);
      }
      box.append(ol);
      const fits = fitLines(s);
      if (fits) {
        box.append(el("p", {}, el("strong", {}, "Nearest valid sizes")));
        const ul = el("ul", { class: "nearest" });
        for (const f of fits) ul.append(el("li", { "data-policy": f.policy }, f.text));
        box.append(ul);
      }
      box.append(el("p", { class: "muted" }, "In words:"), command("explain", s),
        el("p", { class: "muted" }, "Resize and windows too:"), command("fit", s));
    } else {
      if (r.verdict === "unproven") {
        const ul = el("ul", {});
        for (const w of r.why) ul.append(el("li", {}, w));
        box.append(el("p", {}, "passes every proven condition, but:"), ul);
      }
      const ul = el("ul", { class: "outputs" });
      for (const o of D.outputs) {
        const dims = evalDims(o.shape, s);
        ul.append(el("li", {}, el("code", {}, `${o.name}: ` + (dims ? `[${dims.join(", ")}]` : "unknown"))));
      }
      box.append(el("p", {}, "Outputs:"), ul);
    }
    updateLayers(s, r);
    if (window.graphshapeTyped) window.graphshapeTyped(s, r.verdict);
    document.querySelectorAll("[data-typed]").forEach((e) => { e.textContent = fmt(s, D.names); });
  }
  function updateLayers(s, r) {
    const failing = new Set((r.violations || []).map((v) => v.node));
    let first = true;
    document.querySelectorAll("#layers tbody tr").forEach((tr, i) => {
      const row = D.layers[i];
      if (!row) return;
      const dims = evalDims(row.shape, s);
      tr.querySelector("td.at").textContent = dims ? `[${dims.join(", ")}]` : "?";
      const f = failing.has(row.node);
      tr.classList.toggle("fails", f);
      if (f && first) { tr.id = "first-failing"; first = false; } else if (tr.id === "first-failing") tr.removeAttribute("id");
    });
  }
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const got = readSizes();
    if (got.error) { $("#probe-result").replaceChildren(el("p", { class: "v-invalid" }, got.error)); return; }
    show(got.s, got.assumed);
  });

  // ---- the region: the size under the pointer ----
  const svg = document.querySelector("svg.region"), R = D.region;
  if (svg && R) {
    const tip = $("#tip"), probe = svg.querySelector(".probe");
    const inv = (px, p0, p1, hi) => {
      const lo = 0.5, top = hi + 0.5, t = (px - p0) / (p1 - p0);
      const v = R.log ? Math.exp(Math.log(lo) + t * (Math.log(top) - Math.log(lo))) : lo + t * (top - lo);
      return Math.min(hi, Math.max(1, Math.round(v)));
    };
    const fwd = (v, p0, p1, hi) => {
      const lo = 0.5, top = hi + 0.5;
      const t = R.log ? (Math.log(v) - Math.log(lo)) / (Math.log(top) - Math.log(lo)) : (v - lo) / (top - lo);
      return p0 + t * (p1 - p0);
    };
    const at = (ev) => {
      const pt = svg.createSVGPoint();
      pt.x = ev.clientX; pt.y = ev.clientY;
      const p = pt.matrixTransform(svg.getScreenCTM().inverse());
      if (p.x < R.left || p.x > R.left + R.pw || p.y < R.top || p.y > R.top + R.ph) return null;
      const s = {};
      for (const [k, v] of Object.entries(R.held)) s[k] = BigInt(v);
      let x = inv(p.x, R.left, R.left + R.pw, R.xHi);
      let y = R.y ? inv(p.y, R.top + R.ph, R.top, R.yHi) : 1;
      // a run is drawn at least a few pixels wide: over it, the size is one of its own
      const t = ev.target;
      if (t && t.classList && t.classList.contains("run")) {
        const c = (v, a, b) => Math.min(Number(t.dataset[b]), Math.max(Number(t.dataset[a]), v));
        x = c(x, "x0", "x1");
        if (R.y) y = c(y, "y0", "y1");
      }
      s[R.x] = BigInt(x);
      if (R.y) s[R.y] = BigInt(y);
      return { s, x, y };
    };
    svg.addEventListener("pointermove", (ev) => {
      const a = at(ev);
      if (!a) { tip.style.display = "none"; probe.setAttribute("visibility", "hidden"); return; }
      const r = decide(a.s);
      let text = `${fmt(a.s, D.names)}: ${r.verdict}`;
      if (r.verdict === "invalid") text += ` \u2014 ${r.violations[0].op} '${r.violations[0].node}'`;
      tip.textContent = text;
      tip.className = "v-" + r.verdict;
      tip.style.display = "block";
      const fig = svg.parentElement.getBoundingClientRect();
      const left = ev.clientX - fig.left + 14, topPx = ev.clientY - fig.top + 14;
      tip.style.left = Math.min(left, fig.width - 240) + "px";
      tip.style.top = topPx + "px";
      place(a.x, a.y);
    });
    // the probe: at the pointer while it is over the plane, else at the typed size
    let typed = null;
    function place(x, y) {
      if (x === null) { probe.setAttribute("visibility", "hidden"); return; }
      const cx = fwd(x, R.left, R.left + R.pw, R.xHi);
      const cy = R.y ? fwd(y, R.top + R.ph, R.top, R.yHi) : R.top + R.ph / 2;
      const [lx, ly] = probe.querySelectorAll("line");
      lx.setAttribute("x1", cx); lx.setAttribute("x2", cx); lx.setAttribute("y1", R.top); lx.setAttribute("y2", R.top + R.ph);
      ly.setAttribute("x1", R.left); ly.setAttribute("x2", R.left + R.pw); ly.setAttribute("y1", cy); ly.setAttribute("y2", cy);
      const dot = probe.querySelector("circle");
      dot.setAttribute("cx", cx); dot.setAttribute("cy", cy);
      probe.setAttribute("visibility", "visible");
    }
    window.graphshapeTyped = (s, verdict) => {
      const x = Number(s[R.x]), y = R.y ? Number(s[R.y]) : 1;
      const inPlane = x <= R.xHi && y <= (R.y ? R.yHi : 1) &&
        Object.entries(R.held).every(([k, v]) => String(s[k]) === v);
      typed = inPlane ? [x, y] : null;
      probe.setAttribute("class", "probe " + verdict);
      place(typed ? typed[0] : null, typed ? typed[1] : null);
    };
    svg.addEventListener("pointerleave", () => { tip.style.display = "none"; place(typed ? typed[0] : null, typed ? typed[1] : null); });
    // pointerup, not click: a click's coordinates are whole pixels, and on a log axis
    // one pixel is several sizes (the click must check the size the pointer showed)
    svg.addEventListener("pointerup", (ev) => {
      const a = at(ev);
      if (!a) return;
      for (const n of D.names) form.elements[n].value = String(a.s[n]);
      show(a.s, []);
    });
  }
  const got = readSizes();
  if (!got.error) show(got.s, got.assumed);
  window.graphshapePage = { decide: (sizes) => {
    const s = {};
    for (const [k, v] of Object.entries(sizes)) s[k] = BigInt(v);
    for (const n of D.free) if (!(n in s)) s[n] = 1n;
    const r = decide(s);
    return { verdict: r.verdict, nodes: (r.violations || []).map((v) => v.node) };
  }, nearest: (sizes) => {
    const req = D.names.map((n) => BigInt(sizes[n]));
    const f = (pt) => pt && Object.fromEntries(D.names.map((n, j) => [n, Number(pt[j])]));
    return { pad: f(nearest(req, true)), crop: f(nearest(req, false)) };
  } };
})();
"""

INDEX_SCRIPT = r"""
(function () {
  "use strict";
  const table = document.querySelector("#models"), body = table.tBodies[0];
  const text = document.querySelector("#filter-text"), status = document.querySelector("#filter-status");
  const count = document.querySelector("#shown");
  function apply() {
    const q = text.value.trim().toLowerCase(), st = status.value;
    let n = 0;
    for (const tr of body.rows) {
      const show = (!st || tr.dataset.status === st) && (!q || tr.textContent.toLowerCase().includes(q));
      tr.hidden = !show;
      if (show) n++;
    }
    count.textContent = `${n} of ${body.rows.length}`;
  }
  text.addEventListener("input", apply);
  status.addEventListener("change", apply);
  table.querySelectorAll("th.sortable").forEach((th) => {
    th.addEventListener("click", () => {
      const asc = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th.sortable").forEach((h) => h.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      const idx = th.cellIndex, num = th.dataset.type === "num";
      const key = (tr) => { const c = tr.cells[idx]; const v = c.dataset.value !== undefined ? c.dataset.value : c.textContent; return num ? parseFloat(v) : v.toLowerCase(); };
      const rows = Array.from(body.rows).sort((a, b) => {
        const x = key(a), y = key(b);
        return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
      });
      body.append(...rows);
    });
  });
  apply();
})();
"""

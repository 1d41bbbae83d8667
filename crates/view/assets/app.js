// gomon view: reads /api/* and draws the charts with uPlot. No framework, no
// build step; the whole state of the page is in the URL hash, so a copied URL
// opens the same target, range, overlays, variables and panels.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const RANGES = [["5m", 300], ["15m", 900], ["1h", 3600], ["6h", 21600], ["24h", 86400], ["7d", 604800], ["30d", 2592000]];
  const COLORS = ["#4fd1c5", "#f6ad55", "#9f7aea", "#63b3ed", "#f56565", "#68d391", "#ed64a6", "#ecc94b"];
  const POLL_MS = 5000;

  // ---------- formatting ----------
  const units = (v, base, names) => {
    if (v == null || !isFinite(v)) return "–";
    let i = 0, a = Math.abs(v);
    while (a >= base && i < names.length - 1) { a /= base; v /= base; i++; }
    const digits = Math.abs(v) >= 100 || i === 0 && Number.isInteger(v) ? 0 : Math.abs(v) >= 10 ? 1 : 2;
    return v.toFixed(digits) + names[i];
  };
  const fmt = {
    bytes: (v) => units(v, 1000, [" B", " KB", " MB", " GB", " TB"]),
    rate: (v) => units(v, 1000, [" B/s", " KB/s", " MB/s", " GB/s"]),
    count: (v) => units(v, 1000, ["", "k", "M", "G", "T"]),
    perSec: (v) => units(v, 1000, ["/s", "k/s", "M/s", "G/s"]),
    ns: (v) => v == null ? "–" : v >= 1e9 ? (v / 1e9).toFixed(2) + " s" : v >= 1e6 ? (v / 1e6).toFixed(v >= 1e7 ? 0 : 1) + " ms" : v >= 1e3 ? (v / 1e3).toFixed(v >= 1e4 ? 0 : 1) + " µs" : Math.round(v) + " ns",
    pct: (v) => { if (v == null) return "–"; const p = v * 100; return p.toFixed(p === 0 || p >= 10 ? 0 : p >= 1 ? 1 : p >= 0.1 ? 2 : 3) + " %"; },
  };
  // Axis labels: one scale for the whole axis, as many decimals as the tick step needs.
  const SCALES = { bytes: [1000, [" B", " KB", " MB", " GB", " TB"]], rate: [1000, [" B/s", " KB/s", " MB/s", " GB/s"]],
    count: [1000, ["", "k", "M", "G", "T"]], perSec: [1000, ["/s", "k/s", "M/s", "G/s"]], ns: [1000, [" ns", " µs", " ms", " s"]] };
  const axisLabels = (unit, vals) => {
    if (!SCALES[unit]) return vals.map((v) => fmt[unit](v));
    const [base, names] = SCALES[unit];
    const top = Math.max(...vals.map((v) => Math.abs(v || 0)));
    let div = 1, i = 0;
    while (top / div >= base && i < names.length - 1) { div *= base; i++; }
    const step = vals.length > 1 ? Math.abs(vals[1] - vals[0]) / div : 1;
    const decimals = step > 0 ? Math.min(3, Math.max(0, -Math.floor(Math.log10(step) + 1e-9))) : 0;
    return vals.map((v) => v == null ? "" : (v / div).toFixed(decimals) + names[i]);
  };
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const when = (ms) => new Date(ms).toLocaleString();
  const hhmm = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

  // ---------- the panels of Metricbeat's Golang overview, and gomon's own ----------
  const PANELS = [
    { id: "live", title: "Live heap and trend", note: "post-GC heap, the line gomon's verdict reads", wide: true, height: 260, unit: "bytes", series: [
      { col: "allocations.allocated.max", label: "allocated max", color: "#3d5270" },
      { col: "allocations.allocated.min", label: "allocated min", color: "#5a7699" },
      { col: "gc.next_gc_limit", label: "GC limit", color: "#f6ad55", dash: [6, 4] },
      { col: "live", label: "live heap", color: "#4fd1c5", width: 2.5, points: true },
      { trend: true, label: "trend", color: "#f56565", width: 2, dash: [10, 5] },
    ] },
    { id: "heap", title: "Heap", unit: "bytes", series: [
      { col: "allocations.active", label: "active", color: COLORS[0] },
      { col: "allocations.allocated", label: "allocated", color: COLORS[1] },
      { col: "allocations.idle", label: "idle", color: COLORS[2] },
      { col: "allocations.total", label: "total (cumulative, right)", color: COLORS[3], right: true },
    ] },
    { id: "system", title: "System", note: "memory obtained from the OS", unit: "bytes", series: [
      { col: "system.total", label: "total", color: COLORS[0] },
      { col: "system.obtained", label: "obtained", color: COLORS[1] },
      { col: "system.stack", label: "stack", color: COLORS[2] },
      { col: "system.released", label: "released", color: COLORS[3] },
    ] },
    { id: "objects", title: "Objects and allocation rate", unit: "count", unit2: "rate", series: [
      { col: "allocations.objects", label: "objects", color: COLORS[0] },
      { col: "rate.allocated_bytes_per_sec", label: "allocated (right)", color: COLORS[1], right: true },
    ] },
    { id: "gc", title: "GC cycles and CPU fraction", unit: "count", unit2: "pct", series: [
      { col: "gc.total_count", label: "GC cycles", color: COLORS[0] },
      { col: "gc.cpu_fraction", label: "GC CPU fraction (right)", color: COLORS[4], right: true },
    ] },
    { id: "pauses", title: "GC pauses", note: "per interval", unit: "ns", series: [
      { col: "gc.pause.sum.ns", label: "sum", points: true, color: COLORS[2] },
      { col: "gc.pause.max.ns", label: "max", points: true, color: COLORS[4] },
      { col: "gc.pause.avg.ns", label: "avg", points: true, color: COLORS[0] },
    ] },
    { id: "percentiles", title: "GC pause percentiles", note: "per interval", unit: "ns", series: [
      { col: "gc.pause.p50.ns", label: "p50", points: true, color: COLORS[5] },
      { col: "gc.pause.p95.ns", label: "p95", points: true, color: COLORS[1] },
      { col: "gc.pause.p99.ns", label: "p99", points: true, color: COLORS[4] },
    ] },
  ];

  // ---------- state in the URL hash ----------
  const state = { t: null, cmp: [], r: "1h", from: null, to: null, v: [], hide: [] };
  const readHash = () => {
    const h = new URLSearchParams(location.hash.slice(1));
    state.t = h.get("t");
    state.cmp = (h.get("cmp") || "").split(",").filter(Boolean);
    state.v = (h.get("v") || "").split(",").filter(Boolean);
    state.hide = (h.get("hide") || "").split(",").filter(Boolean);
    const from = Number(h.get("from")), to = Number(h.get("to"));
    if (from > 0 && to > from) { state.from = from; state.to = to; state.r = null; }
    else { state.from = state.to = null; state.r = RANGES.some(([k]) => k === h.get("r")) ? h.get("r") : "1h"; }
  };
  const writeHash = () => {
    const h = new URLSearchParams();
    if (state.t) h.set("t", state.t);
    if (state.r) h.set("r", state.r); else { h.set("from", state.from); h.set("to", state.to); }
    if (state.cmp.length) h.set("cmp", state.cmp.join(","));
    if (state.v.length) h.set("v", state.v.join(","));
    if (state.hide.length) h.set("hide", state.hide.join(","));
    const next = "#" + h.toString();
    if (location.hash !== next) history.replaceState(null, "", next);
  };
  const range = () => {
    if (state.r) {
      const span = RANGES.find(([k]) => k === state.r)[1] * 1000;
      const to = Date.now();
      return { from: to - span, to, live: true };
    }
    return { from: state.from, to: state.to, live: false };
  };

  // ---------- API ----------
  const api = async (path, params) => {
    const url = path + "?" + new URLSearchParams(params).toString();
    const res = await fetch(url, { cache: "no-store" });
    const body = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
    if (!res.ok) {
      const e = new Error(body.error + (body.parameter ? ` (parameter: ${body.parameter})` : ""));
      e.status = res.status;
      throw e;
    }
    return body;
  };
  const showError = (e) => {
    const box = $("error");
    if (!e) { box.hidden = true; return; }
    box.textContent = "⚠ " + (e.message || e);
    box.hidden = false;
  };

  // ---------- charts ----------
  const charts = new Map(); // id -> { u, el }
  const hook = { firstChartMs: null, drawn: 0 };
  const axisFmt = (unit) => (u, vals) => axisLabels(unit, vals);
  const restartsPlugin = (getMarks) => ({
    hooks: {
      draw: (u) => {
        const marks = getMarks();
        if (!marks.length) return;
        const ctx = u.ctx, { top, height } = u.bbox;
        ctx.save();
        ctx.strokeStyle = "#f56565"; ctx.fillStyle = "#f56565"; ctx.lineWidth = 1.5 * devicePixelRatio;
        ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
        ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
        for (const t of marks) {
          const x = Math.round(u.valToPos(t, "x", true));
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
          ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
          ctx.fillText("restart", x + 4 * devicePixelRatio, top + 12 * devicePixelRatio);
        }
        ctx.restore();
      },
    },
  });
  let restartMarks = [];
  const drawnHook = (u) => {
    hook.drawn++;
    if (hook.firstChartMs == null && u.data[0].length) {
      performance.mark("gomon-first-chart");
      hook.firstChartMs = performance.now();
    }
  };
  const chartWidth = (el) => Math.max(260, el.clientWidth - 20);
  // Time labels on one line: the clock, with the date once the range spans days.
  const pad = (n) => String(n).padStart(2, "0");
  const timeLabels = (u, splits) => {
    const span = (u.scales.x.max - u.scales.x.min) || 1;
    const step = splits.length > 1 ? splits[1] - splits[0] : span;
    return splits.map((t) => {
      const d = new Date(t * 1000);
      const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}` + (step < 60 ? `:${pad(d.getSeconds())}` : "");
      return span > 86400 * 1.5 ? `${pad(d.getDate())}/${pad(d.getMonth() + 1)}` + (step < 86400 ? " " + clock : "") : clock;
    });
  };
  // Room for the widest label of a value axis.
  const axisSize = (u, values) => 26 + 7 * Math.max(3, ...(values || []).map((v) => String(v).length));
  // The legend shows the value under the cursor, and the latest value when the cursor is elsewhere.
  const latest = (u, sidx) => { const col = u.data[sidx]; for (let i = col.length - 1; i >= 0; i--) if (col[i] != null) return col[i]; return null; };

  const makeChart = (id, container, { title, note, wide, height, unit, unit2, series, closable }, data) => {
    let entry = charts.get(id);
    const opts = {
      width: 400, height: height || 200,
      cursor: { sync: { key: "gomon" }, drag: { x: true, y: false, setScale: false } },
      scales: { x: { time: true } },
      axes: [
        { stroke: "#8a9ab0", grid: { stroke: "#1c2636" }, ticks: { stroke: "#243147" }, values: timeLabels, space: 80 },
        { stroke: "#8a9ab0", grid: { stroke: "#1c2636" }, ticks: { stroke: "#243147" }, values: axisFmt(unit), size: axisSize },
      ],
      series: [{ value: (u, v) => v == null ? "latest" : new Date(v * 1000).toLocaleTimeString() }].concat(series.map((s) => ({
        label: s.label, stroke: s.color, width: s.width || 1.5, dash: s.dash, scale: s.right ? "y2" : "y",
        spanGaps: s.col === "live" || !!s.trend,
        points: s.points ? { show: true, size: s.col === "live" ? 5 : 3, fill: s.color } : { show: false },
        value: (u, v, sidx, idx) => fmt[s.right ? unit2 || unit : unit](idx == null ? latest(u, sidx) : v),
      }))),
      hooks: {
        draw: [drawnHook],
        setSelect: [(u) => {
          if (u.select.width < 8) return;
          const from = Math.round(u.posToVal(u.select.left, "x") * 1000);
          const to = Math.round(u.posToVal(u.select.left + u.select.width, "x") * 1000);
          u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
          if (to - from >= 10000) { state.r = null; state.from = from; state.to = to; reload(); }
        }],
      },
      plugins: [restartsPlugin(() => restartMarks)],
    };
    if (series.some((s) => s.right)) {
      opts.scales.y2 = {};
      opts.axes.push({ scale: "y2", side: 1, stroke: "#8a9ab0", grid: { show: false }, values: axisFmt(unit2 || unit), size: axisSize });
    }
    if (entry && entry.u.series.length === opts.series.length) {
      entry.u.setData(data);
      return entry.u;
    }
    if (entry) { entry.u.destroy(); entry.el.remove(); }
    const el = document.createElement("div");
    el.className = "panel" + (wide ? " wide" : "");
    el.dataset.chart = id;
    el.innerHTML = `<h3>${esc(title)} ${note ? `<small>${esc(note)}</small>` : ""}${closable ? `<button class="x" title="Remove" aria-label="Remove">×</button>` : ""}</h3>`;
    container.appendChild(el);
    if (closable) el.querySelector(".x").onclick = closable;
    opts.width = chartWidth(el);
    const u = new uPlot(opts, data, el);
    charts.set(id, { u, el });
    return u;
  };
  const dropChart = (id) => {
    const entry = charts.get(id);
    if (entry) { entry.u.destroy(); entry.el.remove(); charts.delete(id); }
  };
  let resizeTimer;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => charts.forEach(({ u, el }) => u.setSize({ width: chartWidth(el), height: u.height })), 150);
  });

  // ---------- targets list ----------
  let targets = [];
  const verdictOf = (t) => t.verdict ? t.verdict.verdict : null;
  const renderTargets = () => {
    const q = $("search").value.trim().toLowerCase();
    const ul = $("targets");
    ul.innerHTML = "";
    for (const t of targets) {
      const hay = `${t.program} ${t.address} ${t.cmdline || ""} ${verdictOf(t) || ""}`.toLowerCase();
      if (q && !hay.includes(q)) continue;
      const li = document.createElement("li");
      li.className = (t.address === state.t ? "on " : "") + (state.cmp.includes(t.address) ? "cmp" : "");
      li.dataset.address = t.address;
      const v = verdictOf(t);
      li.innerHTML = `<span class="dot ${t.status}" title="${esc(t.status)}${t.last_error ? ": " + esc(t.last_error) : ""}"></span>
        <span class="name"><b>${esc(t.program || t.address)}</b><small>${esc(t.address)}</small></span>
        ${v ? `<span class="badge ${esc(v)}" title="${esc(v)}: ${esc(t.verdict.summary)}">${esc(v === "insufficient-data" ? "too short" : v)}</span>` : "<span></span>"}
        ${t.address !== state.t ? `<button class="add" title="Overlay on the open target" aria-label="Compare">+</button>` : "<span></span>"}`;
      li.onclick = (ev) => {
        if (ev.target.classList.contains("add")) {
          ev.stopPropagation();
          if (!state.t) { state.t = t.address; }
          else state.cmp = state.cmp.includes(t.address) ? state.cmp.filter((a) => a !== t.address) : state.cmp.concat(t.address);
        } else {
          state.t = t.address; state.cmp = state.cmp.filter((a) => a !== t.address);
          $("side").classList.remove("open");
        }
        reload();
      };
      ul.appendChild(li);
    }
  };
  const loadTargets = async () => {
    const body = await api("/api/targets", {});
    targets = body.targets.sort((a, b) => (a.program || a.address).localeCompare(b.program || b.address) || a.address.localeCompare(b.address));
    renderTargets();
  };

  // ---------- one target ----------
  let heap = null, cmpHeaps = [], analysis = null;
  const column = (h, col) => (h.columns[col] || h.ts.map(() => null));
  const seriesValues = (h, s) => {
    if (s.trend) return trendValues(h);
    return column(h, s.col);
  };
  const trendValues = (h) => {
    const out = h.ts.map(() => null);
    if (!analysis) return out;
    for (const lt of analysis.lifetimes) {
      if (!lt.trend) continue;
      const [[t0, y0], [t1, y1]] = lt.trend;
      h.ts.forEach((t, i) => { if (t >= t0 && t <= t1) out[i] = y0 + (y1 - y0) * (t - t0) / (t1 - t0); });
    }
    return out;
  };
  const panelData = (panel) => {
    const own = [heap.ts.map((t) => t / 1000)].concat(panel.series.map((s) => seriesValues(heap, s)));
    if (!cmpHeaps.length) return { data: own, series: panel.series };
    const plain = panel.series.filter((s) => !s.trend);
    const tables = [own].concat(cmpHeaps.map((h) => [h.ts.map((t) => t / 1000)].concat(plain.map((s) => column(h, s.col)))));
    const series = panel.series.concat(...cmpHeaps.map((h, i) => plain.map((s) => ({ ...s, label: `${s.label} · ${programOf(h.target)}`, dash: [3, 3], width: 1.2, color: COLORS[(i + 4) % COLORS.length], points: false }))));
    return { data: uPlot.join(tables), series };
  };
  const programOf = (address) => (targets.find((t) => t.address === address) || {}).program || address;

  const renderVerdict = () => {
    const box = $("verdict");
    const lts = analysis ? analysis.lifetimes : [];
    const last = lts[lts.length - 1];
    if (!analysis) { box.className = "verdict"; box.dataset.verdict = ""; box.innerHTML = `<span class="word">…</span><span class="summary">Analysing the live heap…</span>`; return; }
    if (!last) { box.className = "verdict"; box.dataset.verdict = ""; box.innerHTML = `<span class="word">no data</span><span class="summary">No heap documents in this range.</span>`; return; }
    const e = last.evidence;
    const also = last.verdicts.filter((v) => v !== last.verdict);
    const trendKnown = last.verdict !== "insufficient-data";
    const items = (trendKnown ? [
      ["live heap", `${fmt.bytes(e.live_heap_start_bytes)} → ${fmt.bytes(e.live_heap_end_bytes)}`],
      ["growth", `${e.growth_mb_per_hour.toFixed(1)} MB/h`],
      ["recent growth", `${e.recent_growth_mb_per_hour.toFixed(1)} MB/h`],
      ["confidence", e.confidence == null ? "–" : Math.round(e.confidence * 100) + " %"],
    ] : []).concat([
      ["GC limit", `${fmt.bytes(e.gc_limit_start_bytes)} → ${fmt.bytes(e.gc_limit_end_bytes)}`],
      ["GC CPU", fmt.pct(e.gc_cpu_fraction)],
      ["p99 pause", fmt.ns(e.pause_p99_ns)],
      ["GC cycles", e.gc_cycles_per_sec == null ? "–" : e.gc_cycles_per_sec.toFixed(2) + "/s"],
      ["allocation", fmt.rate(e.alloc_bytes_per_sec)],
      ["samples", `${last.samples} over ${Math.round(last.span_secs)} s`],
    ]);
    if (e.seconds_to_limit != null) items.push(["limit reached in", Math.round(e.seconds_to_limit / 60) + " min"]);
    box.className = "verdict " + last.verdict;
    box.dataset.verdict = last.verdict;
    box.innerHTML = `<span class="word">${esc(last.verdict)}</span>
      <span class="summary">${esc(last.summary)}${also.length ? ` <span class="also">also: ${also.map(esc).join(", ")}</span>` : ""}${lts.length > 1 ? ` <span class="also">(${lts.length} processes in range; the last one shown)</span>` : ""}</span>
      <dl>${items.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join("")}</dl>${whereOf(last)}`;
  };
  // Where it grows: the heap sites and goroutine places of the profile
  // metric set, summed over the process's profiles in range.
  const place = (s) => s.stack[0] || s.function;
  const whereOf = (lt) => {
    const p = lt.profiles;
    if (!p) return "";
    const heap = p.sites.length ? `<div class="sites"><h3>Where the heap grows <small>(${p.profiles} heap profiles)</small></h3><ol>${p.sites.map((s) =>
      `<li title="${esc(s.stack.join("\n"))}"><b>${esc(fmt.bytes(s.growth))}</b> <span class="share">${Math.round(s.share * 100)} %</span> <code>${esc(place(s))}</code></li>`).join("")}</ol></div>` : "";
    const g = p.goroutines;
    // The places that grew are named only when the count climbs: a steady
    // count has connections and workers coming and going.
    const gr = g ? `<div class="sites"><h3>Goroutines <small>${Math.round(g.start)} → ${Math.round(g.end)} (${g.growth_per_hour >= 0 ? "+" : ""}${Math.round(g.growth_per_hour)}/h), ${g.leaking ? "climbing" : "not climbing"}</small></h3>${g.leaking ? `<ol>${g.growing.map((s) =>
      `<li title="${esc(s.stack.join("\n"))}"><b>+${esc(fmt.count(s.growth))}</b> <code>${esc(place(s))}</code></li>`).join("")}</ol>` : ""}</div>` : "";
    return heap || gr ? `<div class="where" id="where">${heap}${gr}</div>` : "";
  };
  const renderStats = () => {
    const last = (col) => { const c = column(heap, col); for (let i = c.length - 1; i >= 0; i--) if (c[i] != null) return c[i]; return null; };
    const extreme = (col, f) => { const c = column(heap, col).filter((v) => v != null); return c.length ? c.reduce((a, b) => f(a, b)) : null; };
    let cycles = 0, prev = null;
    for (const v of column(heap, "gc.total_count")) { if (v != null) { if (prev != null && v >= prev) cycles += v - prev; prev = v; } }
    const stats = [
      ["System total", fmt.bytes(last("system.total"))],
      ["Allocated min", fmt.bytes(extreme("allocations.allocated.min", Math.min))],
      ["Allocated max", fmt.bytes(extreme("allocations.allocated.max", Math.max))],
      ["GC limit", fmt.bytes(last("gc.next_gc_limit"))],
      ["GC cycles", fmt.count(heap.ts.length ? cycles : null)],
      ["Live heap", fmt.bytes(last("live"))],
      ["Restarts", String(restartMarks.length)],
    ];
    $("stats").innerHTML = stats.map(([k, v]) => `<div class="stat"><span>${esc(k)}</span><b>${esc(v)}</b></div>`).join("");
  };

  const renderHeap = () => {
    restartMarks = [];
    column(heap, "restarted").forEach((v, i) => { if (v) restartMarks.push(heap.ts[i] / 1000); });
    renderStats();
    renderVerdict();
    const container = $("charts");
    for (const panel of PANELS) {
      if (state.hide.includes(panel.id)) { dropChart(panel.id); continue; }
      const { data, series } = panelData(panel);
      makeChart(panel.id, container, { ...panel, series, closable: () => { state.hide.push(panel.id); reload(); } }, data);
    }
    const cmp = $("compare");
    cmp.hidden = !cmpHeaps.length;
    cmp.innerHTML = cmpHeaps.length ? `Overlaid <i></i> ${cmpHeaps.map((h) => `<b>${esc(programOf(h.target))}</b> ${esc(h.target)}`).join(", ")}` + (state.hide.length ? "" : "") : "";
    if (state.hide.length) {
      cmp.hidden = false;
      cmp.innerHTML += ` <span>Hidden panels: ${state.hide.map((id) => `<a href="#" data-show="${esc(id)}">${esc(id)}</a>`).join(", ")}</span>`;
      cmp.querySelectorAll("[data-show]").forEach((a) => a.onclick = (ev) => { ev.preventDefault(); state.hide = state.hide.filter((x) => x !== a.dataset.show); reload(); });
    }
  };

  const renderCustom = async (r) => {
    const container = $("custom-charts");
    for (const id of [...charts.keys()]) if (id.startsWith("v:") && !state.v.includes(id.slice(2))) dropChart(id);
    for (const field of state.v) {
      try {
        const body = await api("/api/expvar", { target: state.t, field, from: r.from, to: r.to, points: points() });
        const counter = body.kind === "counter";
        const values = counter ? body.rate : body.values;
        makeChart("v:" + field, container, {
          title: field, note: counter ? "counter, per second (derivative)" : "gauge",
          unit: counter ? "perSec" : "count",
          series: [{ col: field, label: counter ? `${field} /s` : field, color: COLORS[state.v.indexOf(field) % COLORS.length] }],
          closable: () => { state.v = state.v.filter((f) => f !== field); reload(); },
        }, [body.ts.map((t) => t / 1000), values]);
      } catch (e) { showError(e); }
    }
  };
  const loadFields = async (r) => {
    const body = await api("/api/expvar/fields", { target: state.t });
    $("fields").innerHTML = body.fields.map((f) => `<option value="${esc(f)}">`).join("");
    return body.fields;
  };
  const points = () => Math.max(200, Math.min(2000, Math.round(($("main").clientWidth || 1000) * 1.2)));

  // ---------- load and refresh ----------
  let loading = null, pollTimer = null, lastTarget = null;
  const renderRanges = () => {
    const box = $("ranges");
    box.innerHTML = RANGES.map(([k]) => `<button type="button" data-r="${k}" class="${state.r === k ? "on" : ""}">${k}</button>`).join("")
      + (state.r ? "" : `<button type="button" class="on span" title="${esc(when(state.from))} – ${esc(when(state.to))}: a dragged range; pick a preset to follow live data again">${hhmm(state.from)}–${hhmm(state.to)}</button>`);
    box.querySelectorAll("[data-r]").forEach((b) => b.onclick = () => { state.r = b.dataset.r; state.from = state.to = null; reload(); });
  };
  const reload = async (quiet) => {
    writeHash();
    renderRanges();
    renderTargets();
    const r = range();
    $("live").classList.toggle("on", r.live);
    $("live").textContent = r.live ? "live" : "paused";
    if (!state.t) { $("empty").hidden = false; $("target").hidden = true; $("title").textContent = ""; return; }
    $("empty").hidden = true; $("target").hidden = false;
    const t = targets.find((x) => x.address === state.t);
    $("title").innerHTML = `<b>${esc(t ? t.program : state.t)}</b> · ${esc(state.t)}${t && t.cmdline ? " · " + esc(t.cmdline) : ""}`;
    document.title = `${t ? t.program : state.t} · gomon view`;
    const job = (async () => {
      try {
        const n = points();
        // The analysis can take longer than the series: the charts are drawn
        // first, the verdict and the trend line when it arrives.
        const analysed = api("/api/analysis", { target: state.t, from: r.from, to: r.to });
        const [h, ...cmps] = await Promise.all([
          api("/api/heap", { target: state.t, from: r.from, to: r.to, points: n }),
          ...state.cmp.map((c) => api("/api/heap", { target: c, from: r.from, to: r.to, points: n })),
        ]);
        heap = h; cmpHeaps = cmps;
        if (lastTarget !== state.t) {
          for (const id of [...charts.keys()]) dropChart(id);
          lastTarget = state.t;
          analysis = null;
          loadFields(r).catch(showError);
        }
        renderHeap();
        analysis = await analysed;
        renderHeap();
        await renderCustom(r);
        showError(null);
        hook.ready = true;
      } catch (e) { showError(e); hook.ready = true; }
    })();
    loading = job;
    await job;
  };
  const poll = async () => {
    clearTimeout(pollTimer);
    try {
      await loadTargets();
      if (range().live && state.t) await reload(true);
    } catch (e) { showError(e); }
    pollTimer = setTimeout(poll, POLL_MS);
  };

  // ---------- wiring ----------
  $("search").addEventListener("input", renderTargets);
  $("menu").onclick = () => $("side").classList.toggle("open");
  const addField = () => {
    const f = $("field-search").value.trim();
    if (!f) return;
    if (!state.v.includes(f)) state.v.push(f);
    $("field-search").value = "";
    reload();
  };
  $("add-field").onclick = addField;
  $("field-search").addEventListener("keydown", (ev) => { if (ev.key === "Enter") addField(); });
  window.addEventListener("hashchange", () => { readHash(); reload(); });

  // What the browser tests read: every chart with its series and points.
  window.gomonView = {
    hook,
    charts: () => [...charts.entries()].map(([id, { u }]) => ({
      id, series: u.series.length - 1, points: u.data[0].length,
      nonEmpty: u.data.slice(1).filter((col) => col.some((v) => v != null)).length,
    })),
    verdict: () => $("verdict").dataset.verdict || null,
    restarts: () => restartMarks.length,
    fields: () => [...$("fields").options].map((o) => o.value),
    state,
  };

  readHash();
  renderRanges();
  if (!state.t) { $("side").classList.add("open"); }
  loadTargets().then(() => reload()).catch(showError).finally(() => { pollTimer = setTimeout(poll, POLL_MS); if (!state.t) hook.ready = true; });
})();

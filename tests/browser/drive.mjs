// Drives gomon view in a real headless Chromium through the DevTools
// protocol, with nothing but Node (20+, run with --experimental-websocket for
// the global WebSocket). It acts as a person would and reports what the page
// showed as one JSON object on stdout; bins/gomon/tests/view.rs judges it.
//
//   node --experimental-websocket tests/browser/drive.mjs \
//     --chromium /usr/bin/chromium --url http://127.0.0.1:5067/ \
//     --target http://127.0.0.1:6061/debug/vars --field example.requests \
//     --screenshot target/test-artifacts/view-leaky.png [--phone-screenshot P] [--bench N]
//     [--bench-range 5m|15m|1h|6h|24h|7d|30d] [--compare OTHER_ADDRESS] [--live SECONDS] [--restart-target ADDRESS --restart-screenshot P]
//
// Steps: open the page; click the target in the list; wait for its charts;
// record each chart's series and points; add the custom variable through
// the picker; overlay another target; reopen the shared URL and check it
// restores the same view; open a target that restarted;
// drag across a chart to zoom; take screenshots (laptop, phone); optionally
// measure the time to the first chart drawn N times. Console errors,
// uncaught exceptions and failed loads are collected throughout.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith("--") ? all[i + 1] : "true"]);
  return acc;
}, []));
for (const need of ["chromium", "url", "target"]) {
  if (!args[need]) { console.error(`drive.mjs: --${need} is required`); process.exit(2); }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const deadline = Date.now() + Number(args.timeout || 120) * 1000;

const profile = mkdtempSync(join(tmpdir(), "gomon-chromium-"));
const browser = spawn(args.chromium, [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
  "--disable-extensions", "--disable-background-networking", "--disable-component-update",
  "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
  "--remote-debugging-port=0", `--user-data-dir=${profile}`, "--window-size=1400,1000", "about:blank",
], { stdio: ["ignore", "ignore", "pipe"] });
let browserLog = "";
browser.stderr.on("data", (d) => { browserLog = (browserLog + d).slice(-4000); });
// Stops chromium, waits (up to 3 s) for it to exit so that it writes no
// more into its profile, then removes the profile.
const cleanup = async () => {
  const exited = browser.exitCode != null || browser.signalCode != null
    ? Promise.resolve()
    : new Promise((resolve) => browser.once("exit", resolve));
  try { browser.kill("SIGKILL"); } catch { /* already gone */ }
  await Promise.race([exited, sleep(3000)]);
  // Its helper processes can outlive it by a moment: remove twice.
  for (const pause of [0, 500]) {
    await sleep(pause);
    try { rmSync(profile, { recursive: true, force: true }); } catch { /* best effort */ }
  }
};
const fail = async (message) => {
  console.error(`drive.mjs: ${message}`);
  if (browserLog) console.error(`chromium said:\n${browserLog}`);
  await cleanup();
  process.exit(1);
};
process.on("uncaughtException", (e) => fail(e.stack || String(e)));
setTimeout(() => fail("timed out"), Math.max(1000, deadline - Date.now())).unref();

// The browser writes its port into the profile once it listens.
let port;
for (;;) {
  const file = join(profile, "DevToolsActivePort");
  if (existsSync(file)) { port = readFileSync(file, "utf8").split("\n")[0].trim(); if (port) break; }
  if (browser.exitCode != null) await fail(`chromium exited with ${browser.exitCode}`);
  if (Date.now() > deadline) await fail("chromium did not open its DevTools port");
  await sleep(100);
}
const pages = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
const page = pages.find((p) => p.type === "page");
if (!page) await fail("no page target in chromium");

// ---------- a minimal DevTools protocol client ----------
const ws = new WebSocket(page.webSocketDebuggerUrl);
await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error("websocket error")); });
let nextId = 1;
const pending = new Map();
const listeners = [];
ws.onmessage = (msg) => {
  const m = JSON.parse(msg.data);
  if (m.id && pending.has(m.id)) {
    const { resolve, reject, method } = pending.get(m.id);
    pending.delete(m.id);
    if (m.error) reject(new Error(`${method}: ${m.error.message}`)); else resolve(m.result);
  } else if (m.method) listeners.forEach((l) => l(m));
};
const send = (method, params = {}) => new Promise((resolve, reject) => {
  const id = nextId++;
  pending.set(id, { resolve, reject, method });
  ws.send(JSON.stringify({ id, method, params }));
});
const evaluate = async (expression) => {
  const r = await send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
  if (r.exceptionDetails) throw new Error(`evaluate ${expression}: ${r.exceptionDetails.exception?.description || r.exceptionDetails.text}`);
  return r.result.value;
};
const waitFor = async (what, expression, ms = 20000) => {
  const until = Date.now() + ms;
  for (;;) {
    const v = await evaluate(expression).catch(() => null);
    if (v) return v;
    if (Date.now() > until) await fail(`waited ${ms} ms for ${what}: ${expression}`);
    await sleep(100);
  }
};

const problems = [];
listeners.push((m) => {
  if (m.method === "Runtime.consoleAPICalled" && ["error", "assert"].includes(m.params.type)) {
    problems.push(`console.${m.params.type}: ${m.params.args.map((a) => a.value ?? a.description).join(" ")}`);
  } else if (m.method === "Runtime.exceptionThrown") {
    problems.push(`exception: ${m.params.exceptionDetails.exception?.description || m.params.exceptionDetails.text}`);
  } else if (m.method === "Log.entryAdded" && m.params.entry.level === "error") {
    problems.push(`log: ${m.params.entry.text} ${m.params.entry.url || ""}`);
  }
});
await send("Runtime.enable");
await send("Log.enable");
await send("Page.enable");
await send("Network.enable");
await send("Network.setCacheDisabled", { cacheDisabled: true });
const laptop = { width: 1400, height: 1000, deviceScaleFactor: 1, mobile: false };
await send("Emulation.setDeviceMetricsOverride", laptop);

const open = async (url) => {
  await send("Page.navigate", { url });
  await waitFor("the page to load", "!!(window.gomonView && window.gomonView.hook.ready)");
};
const chartsOf = () => evaluate("JSON.stringify(window.gomonView.charts())").then(JSON.parse);
const settled = async (what, expression) => {
  // Wait for the condition, then for the charts to stop changing.
  await waitFor(what, expression);
  let last = "";
  for (let i = 0; i < 50; i++) {
    const now = JSON.stringify(await chartsOf());
    if (now === last) return;
    last = now;
    await sleep(200);
  }
};
const screenshot = async (path, metrics, full) => {
  if (full) {
    const { cssContentSize } = await send("Page.getLayoutMetrics");
    await send("Emulation.setDeviceMetricsOverride", { ...metrics, height: Math.ceil(Math.min(cssContentSize.height, 6000)) });
    await sleep(600);
  }
  const { data } = await send("Page.captureScreenshot", { format: "png" });
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, Buffer.from(data, "base64"));
  await send("Emulation.setDeviceMetricsOverride", metrics);
};

const report = { problems };
const base = args.url.replace(/#.*$/, "");
const quoted = JSON.stringify(args.target);

// 1. Open the page and pick the target from the list.
await open(base);
report.listed = await evaluate(`[...document.querySelectorAll("#targets li")].map((li) => li.dataset.address)`);
const item = `[...document.querySelectorAll("#targets li")].find((li) => li.dataset.address === ${quoted})`;
await waitFor("the target in the list", `!!${item}`);
await evaluate(`${item}.querySelector(".name").click()`);
await settled("the target's charts", `window.gomonView.state.t === ${quoted} && window.gomonView.verdict() && window.gomonView.charts().length >= 7`);
report.charts = await chartsOf();
report.verdict = await evaluate("window.gomonView.verdict()");
report.verdictText = await evaluate(`document.getElementById("verdict").innerText`);
report.fields = await evaluate("window.gomonView.fields()");
report.stats = await evaluate(`[...document.querySelectorAll(".stat")].map((s) => s.innerText.replace(/\\n/g, ": "))`);

// 1b. With --live SECONDS (while the agent writes): the open page follows
// new data by itself; the heap chart's points are counted before and after.
if (args.live) {
  const points = () => chartsOf().then((charts) => charts.find((c) => c.id === "heap").points);
  const before = await points();
  await sleep(Number(args.live) * 1000);
  report.live = { before, after: await points(), indicator: await evaluate(`document.getElementById("live").innerText`) };
  ws.close();
  await cleanup();
  process.stdout.write(JSON.stringify(report) + "\n");
  process.exit(0);
}

// 2. Add a custom variable through the picker.
if (args.field) {
  await waitFor("the field list", `window.gomonView.fields().includes(${JSON.stringify(args.field)})`);
  await evaluate(`(() => { const i = document.getElementById("field-search"); i.value = ${JSON.stringify(args.field)}; document.getElementById("add-field").click(); })()`);
  const id = JSON.stringify("v:" + args.field);
  await settled("the custom chart", `window.gomonView.charts().some((c) => c.id === ${id} && c.points > 0)`);
  report.custom = (await chartsOf()).find((c) => c.id === "v:" + args.field);
  report.customNote = await evaluate(`[...document.querySelectorAll("[data-chart]")].find((e) => e.dataset.chart === ${id}).querySelector("h3").innerText`);
}
report.hash = await evaluate("location.hash");
if (args.screenshot) await screenshot(args.screenshot, laptop, true);

// 2b. Overlay another target with its "+" button, then take it off again.
if (args.compare) {
  const other = JSON.stringify(args.compare);
  const plus = `[...document.querySelectorAll("#targets li")].find((li) => li.dataset.address === ${other}).querySelector(".add")`;
  const before = (await chartsOf()).find((c) => c.id === "heap").series;
  await evaluate(`${plus}.click()`);
  await settled("the overlay", `window.gomonView.state.cmp.includes(${other}) && window.gomonView.charts().find((c) => c.id === "heap").series > ${before}`);
  report.compared = { charts: await chartsOf(), hash: await evaluate("location.hash"), legend: await evaluate(`document.querySelector('[data-chart="heap"] .u-legend').innerText`) };
  await evaluate(`${plus}.click()`);
  await settled("the overlay removed", `window.gomonView.charts().find((c) => c.id === "heap").series === ${before}`);
}

// 3. The shared URL opens the same view in a fresh page load.
await send("Page.navigate", { url: "about:blank" });
await open(base + report.hash);
await settled("the shared view", `window.gomonView.state.t === ${quoted} && window.gomonView.charts().length >= ${report.charts.length + (args.field ? 1 : 0)}`);
report.reopened = { target: await evaluate("window.gomonView.state.t"), charts: await chartsOf() };

// 3b. A target that restarted: its restarts are marked on the time axis.
if (args["restart-target"]) {
  const other = JSON.stringify(args["restart-target"]);
  await evaluate(`[...document.querySelectorAll("#targets li")].find((li) => li.dataset.address === ${other}).querySelector(".name").click()`);
  await settled("the restarted target", `window.gomonView.state.t === ${other} && window.gomonView.charts().length >= 7 && window.gomonView.verdict()`);
  report.restarted = {
    restarts: await evaluate("window.gomonView.restarts()"),
    stat: await evaluate(`[...document.querySelectorAll(".stat")].map((s) => s.innerText.replace(/\\n/g, ": ")).find((s) => s.startsWith("Restarts"))`),
    verdictText: await evaluate(`document.getElementById("verdict").innerText`),
  };
  if (args["restart-screenshot"]) await screenshot(args["restart-screenshot"], laptop, false);
}

// 4. Drag across the live-heap chart to zoom into a range.
const box = await evaluate(`(() => { const r = document.querySelector('[data-chart="live"] .u-over').getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; })()`);
await evaluate(`window.scrollTo(0, 0)`);
const y = box.y + box.h / 2;
const x0 = box.x + box.w * 0.3, x1 = box.x + box.w * 0.7;
await send("Input.dispatchMouseEvent", { type: "mouseMoved", x: x0, y });
await send("Input.dispatchMouseEvent", { type: "mousePressed", x: x0, y, button: "left", clickCount: 1 });
for (let i = 1; i <= 10; i++) await send("Input.dispatchMouseEvent", { type: "mouseMoved", x: x0 + (x1 - x0) * i / 10, y, button: "left", buttons: 1 });
await send("Input.dispatchMouseEvent", { type: "mouseReleased", x: x1, y, button: "left", clickCount: 1 });
await settled("the zoomed range", "window.gomonView.state.r === null && window.gomonView.state.from > 0");
report.zoom = {
  from: await evaluate("window.gomonView.state.from"), to: await evaluate("window.gomonView.state.to"),
  hash: await evaluate("location.hash"), charts: await chartsOf(),
};

// 5. A phone: no sideways scrolling, the charts fit the screen.
const phone = { width: 390, height: 844, deviceScaleFactor: 2, mobile: true };
await send("Emulation.setDeviceMetricsOverride", phone);
await sleep(800);
report.phone = await evaluate(`({ scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth,
  widest: Math.max(...[...document.querySelectorAll(".uplot")].map((u) => u.getBoundingClientRect().right)) })`);
if (args["phone-screenshot"]) await screenshot(args["phone-screenshot"], phone, false);
await send("Emulation.setDeviceMetricsOverride", laptop);

// 6. Time to the first chart drawn, from navigation start, cache disabled.
if (args.bench) {
  report.firstChartMs = [];
  const url = base + "#" + new URLSearchParams({ t: args.target, r: args["bench-range"] || "5m" }).toString();
  for (let i = 0; i < Number(args.bench); i++) {
    await send("Page.navigate", { url: "about:blank" });
    await sleep(200);
    await send("Page.navigate", { url });
    const ms = await waitFor("the first chart", `(() => { const m = performance.getEntriesByName("gomon-first-chart")[0]; return m ? m.startTime : 0; })()`);
    report.firstChartMs.push(Math.round(ms));
  }
}

ws.close();
await cleanup();
process.stdout.write(JSON.stringify(report) + "\n");
process.exit(0);

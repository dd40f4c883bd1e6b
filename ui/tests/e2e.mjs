// End-to-end tests of the web UI in Debian's Chromium, driven by playwright-core (no
// browser download), against a real `tributary` server started here with the demo catalog
// on a fresh SQLite file, and a real MLflow server (scripts/mlflow-server) for the
// ingestion page. Screenshots of every page go to target/ui-screenshots/; the lineage
// timings of a 2,000-node neighbourhood go to target/ui-screenshots/lineage-timings.json.
//
//   node ui/tests/e2e.mjs            (after `npm run build` and `cargo build --bin tributary`)
// TRIBUTARY_BIN names another binary; CHROMIUM another browser.

import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const bin = process.env.TRIBUTARY_BIN ?? path.join(repo, "target/debug/tributary");
const shots = path.join(repo, "target/ui-screenshots");
mkdirSync(shots, { recursive: true });

const cleanups = [];
let failures = 0;
const results = [];

function freePort() {
  return Number(
    execFileSync("python3", ["-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"])
      .toString()
      .trim(),
  );
}

/** Starts `tributary serve --demo` on a fresh catalog; resolves with its URL and admin token. */
async function startServer() {
  const dir = mkdtempSync(path.join(tmpdir(), "tributary-ui-"));
  const port = freePort();
  const child = spawn(bin, ["serve", "--demo", "--listen", `127.0.0.1:${port}`], {
    env: {
      ...process.env,
      TRIBUTARY_DATABASE_URL: `sqlite://${dir}/catalog.db`,
      TRIBUTARY_LOG: "warn",
      TRIBUTARY_INGESTION__SCHEDULER: "false",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  cleanups.push(() => (child.kill("SIGTERM"), rmSync(dir, { recursive: true, force: true })));
  let output = "";
  const token = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not print its admin token in 60 s:\n${output}`)), 60_000);
    const read = (chunk) => {
      output += chunk;
      const m = output.match(/admin token: (trb_[A-Za-z0-9_-]+)/);
      if (m) (clearTimeout(timer), resolve(m[1]));
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.on("exit", (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/ready`)).ok) return { url, token };
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("server never became ready");
}

function startMlflow() {
  const out = execFileSync(path.join(repo, "scripts/mlflow-server"), { encoding: "utf8" });
  const env = Object.fromEntries(out.trim().split("\n").map((l) => l.split("=")));
  cleanups.push(() => {
    try {
      process.kill(Number(env.MLFLOW_PID));
    } catch {
      /* gone */
    }
  });
  return env.MLFLOW_URL;
}

async function call(server, method, p, body) {
  const res = await fetch(`${server.url}/api/v1${p}`, {
    method,
    headers: { Authorization: `Bearer ${server.token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function test(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failures++;
    results.push(`FAIL ${name}: ${e.stack ?? e}`);
  }
  console.log(results[results.length - 1]);
}

const shot = (page, name) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: false });

/** Builds a column-level neighbourhood of 2,001 nodes around one model: 1,000 features, each
 *  fed by its own mart column; one level further up, each mart column has a raw column. */
async function seedLargeLineage(server) {
  const tables = 20;
  const perTable = 50;
  const edges = [];
  const features = [];
  for (let t = 0; t < tables; t++) {
    const cols = Array.from({ length: perTable }, (_, c) => ({ name: `col_${String(c).padStart(2, "0")}`, data_type: "double" }));
    for (const layer of ["raw", "mart"]) {
      await call(server, "PUT", "/tables", { fqn: `hive_prod.big.${layer}.t_${t}`, owner: "data-platform", columns: cols });
    }
    for (const c of cols) {
      const n = t * perTable + Number(c.name.slice(4));
      features.push({ name: `f_${String(n).padStart(4, "0")}`, data_type: "numerical" });
      edges.push({ from: `hive_prod.big.raw.t_${t}.${c.name}`, to: `hive_prod.big.mart.t_${t}.${c.name}`, source: "e2e" });
      edges.push({ from: `hive_prod.big.mart.t_${t}.${c.name}`, to: `mlflow_prod.big_model.f_${String(n).padStart(4, "0")}`, source: "e2e" });
    }
  }
  await call(server, "PUT", "/models", { fqn: "mlflow_prod.big_model", owner: "churn-squad", features });
  for (let i = 0; i < edges.length; i += 1000) await call(server, "PUT", "/lineage/edges", { edges: edges.slice(i, i + 1000) });
}

async function main() {
  const server = await startServer();
  const mlflow = startMlflow();
  await call(server, "PUT", "/services/mlflow_e2e", {
    service_type: "mlflow",
    description: "A real MLflow registry started by the UI test",
    connection: { url: mlflow },
  });

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  cleanups.push(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  await context.addInitScript((token) => localStorage.setItem("tributary.token", token), server.token);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // Answers like the 404 of a bad deep link are the test's own doing, not page errors.
  page.on("console", (m) => m.type() === "error" && !/Failed to load resource/.test(m.text()) && errors.push(m.text()));
  const open = (p) => page.goto(`${server.url}${p}`);

  await test("home shows counts and the signed-in role", async () => {
    await open("/");
    await page.getByText("Active incidents").waitFor();
    await page.getByText("admin · admin").or(page.getByText(/· admin/)).first().waitFor();
    const models = await page.locator(".count", { hasText: "Models" }).locator(".number").innerText();
    assert.equal(models, "3", "the demo has three models");
    await shot(page, "01-home");
  });

  let modelFqn;
  await test("search by feature, with typeahead and '/' focus, then the model page", async () => {
    await page.keyboard.press("/");
    await page.keyboard.type("avg_check_30");
    await page.locator(".suggestions li").first().waitFor();
    await shot(page, "02-typeahead");
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/search\?q=avg_check_30/);
    const hit = page.getByTestId("model-hit").first();
    await hit.waitFor();
    assert.match(await hit.innerText(), /avg_check_30d/, "the close feature name is shown");
    assert.match(await hit.innerText(), /close name/, "a close match is labelled as one");
    await shot(page, "03-search");
    await hit.locator("a").first().click();
    await page.waitForURL(/\/models\//);
    modelFqn = decodeURIComponent(page.url().split("/models/")[1]);
    await page.getByRole("table", { name: "Features" }).waitFor();
    await page.locator("table[aria-label=Features] .chip").first().waitFor();
    await shot(page, "04-model");
  });

  await test("the table page lists columns with the models using them", async () => {
    const column = await page.locator("table[aria-label=Features] .chip").first().innerText();
    const table = column.split(".").slice(0, -1).join(".");
    await open(`/tables/${encodeURIComponent(table)}`);
    await page.getByRole("table", { name: "Columns" }).waitFor();
    await page.locator("table[aria-label=Columns] .chip", { hasText: modelFqn }).first().waitFor();
    await shot(page, "05-table");
  });

  await test("lineage graph of the model: expand a node, highlight a path, export", async () => {
    await open(`/lineage/${encodeURIComponent(modelFqn)}`);
    await page.locator(".react-flow__node").first().waitFor();
    const before = await page.locator(".react-flow__node").count();
    const upstream = page.locator(".lnode:not(.root) .expand-up").first();
    await upstream.click();
    await page.waitForFunction((n) => document.querySelectorAll(".react-flow__node").length > n, before, { timeout: 10_000 });
    const after = await page.locator(".react-flow__node").count();
    assert.ok(after > before, `expanding added nodes (${before} → ${after})`);
    // Path between the root and the farthest upstream node.
    const nodes = page.locator(".react-flow__node");
    await nodes.last().click({ modifiers: ["Shift"] });
    await page.locator(".lnode.root").click({ modifiers: ["Shift"] });
    await page.locator(".lnode.on-path").first().waitFor();
    await page.getByRole("button", { name: /Clear path \(\d+ hops\)/ }).waitFor();
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export SVG" }).click()]);
    assert.match(download.suggestedFilename(), /\.svg$/);
    await shot(page, "06-lineage");
    await page.getByRole("group", { name: "Level" }).getByRole("button", { name: "Columns" }).click();
    await page.waitForURL(/level=column/);
    await page.locator(".lnode-feature").first().waitFor();
    await shot(page, "07-lineage-columns");
  });

  let incidentUrl;
  await test("impact of a column, open an incident, see it on the home page", async () => {
    const column = "hive_prod.dwh.client_marts.features_daily.avg_check_30d";
    await open(`/impact/${encodeURIComponent(column)}`);
    const summary = await page.getByTestId("impact-summary").innerText();
    assert.match(summary, /[1-9]\d* affected/, summary);
    await page.locator(".teams .card .path").first().waitFor();
    await shot(page, "08-impact");
    await page.getByRole("button", { name: "Open incident" }).click();
    await page.getByLabel("Title").fill("avg_check_30d empty since the 03:00 load");
    await page.getByRole("form", { name: "Open incident" }).getByRole("button", { name: "Open incident" }).click();
    await page.waitForURL(/\/incidents\/[0-9a-f-]+$/);
    incidentUrl = page.url();
    await page.getByText("avg_check_30d empty since the 03:00 load").waitFor();
    await page.getByRole("table", { name: "Deliveries" }).or(page.getByText("No affected team has a webhook.")).waitFor();
    await shot(page, "09-incident");
    await page.getByRole("button", { name: "Acknowledge" }).click();
    await page.locator(".status-acknowledged").first().waitFor();
    await open("/");
    await page.getByRole("link", { name: "avg_check_30d empty since the 03:00 load" }).waitFor();
    await shot(page, "10-home-with-incident");
    // Marked in the lineage view.
    await open(`/lineage/${encodeURIComponent(modelFqn)}?up=2`);
    await page.locator(".lnode.affected").first().waitFor();
  });

  await test("ingestion page: run a real MLflow registry now and see the run", async () => {
    await open("/ingestion?service=mlflow_e2e");
    await page.getByRole("button", { name: "Run now" }).click();
    const row = page.getByTestId("run-row").first();
    await row.locator(".status-succeeded, .status-failed").waitFor({ timeout: 60_000 });
    const text = await row.innerText();
    assert.match(text, /succeeded/i, `the run succeeded: ${text}`);
    await shot(page, "11-ingestion");
    await open("/");
    await page.locator("section[aria-label='Recent ingestion runs'] .status-succeeded").first().waitFor();
  });

  await test("deep links and bad links", async () => {
    await open(incidentUrl.replace(server.url, ""));
    await page.getByText("avg_check_30d empty since the 03:00 load").waitFor();
    await open("/tables/hive_prod.no.such.table");
    await page.getByRole("alert").getByText("Not found", { exact: true }).waitFor();
    await open("/nowhere/at/all");
    await page.getByText("No such page").waitFor();
  });

  await test("a 2,000-node lineage neighbourhood renders and expands one level", async () => {
    await seedLargeLineage(server);
    const started = Date.now();
    await open(`/lineage/mlflow_prod.big_model?level=column&up=2&down=0`);
    await page.waitForFunction(() => /^2,001 nodes/.test(document.querySelector("[data-testid=lineage-count]")?.textContent ?? ""), null, { timeout: 60_000 });
    await page.locator(".react-flow__node").first().waitFor();
    const firstRender = Date.now() - started;
    // Interactive: pan and zoom answer.
    await page.mouse.move(700, 450);
    await page.mouse.wheel(0, -300);
    await page.locator(".react-flow__node").first().click();
    await page.getByRole("complementary", { name: "Selected node" }).waitFor();
    const expandStarted = Date.now();
    await page.getByRole("button", { name: "One more level upstream" }).click();
    await page.waitForFunction(() => /^3,001 nodes/.test(document.querySelector("[data-testid=lineage-count]")?.textContent ?? ""), null, { timeout: 60_000 });
    await page.locator(".react-flow__node").first().waitFor();
    const expand = Date.now() - expandStarted;
    await shot(page, "12-lineage-2000");
    const timings = { nodes_first: 2001, first_render_ms: firstRender, nodes_after_expand: 3001, expand_one_level_ms: expand };
    writeFileSync(path.join(shots, "lineage-timings.json"), JSON.stringify(timings, null, 2) + "\n");
    console.log(`     lineage timings: ${JSON.stringify(timings)}`);
  });

  await test("no errors in the browser console", async () => {
    assert.deepEqual(errors, []);
  });
}

try {
  await main();
} catch (e) {
  failures++;
  console.error(`FAIL set-up: ${e.stack ?? e}`);
} finally {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch {
      /* best effort */
    }
  }
}
console.log(`ui e2e: ${results.filter((r) => r.startsWith("ok")).length} passed, ${failures} failed; screenshots in ${shots}`);
process.exit(failures ? 1 : 0);

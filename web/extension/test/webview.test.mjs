// The preview's webview bundle (dist/webview.js) in headless Debian Chromium, under the page and
// Content-Security-Policy the extension really sets, with `acquireVsCodeApi` stubbed: post the
// messages the extension sends, check the drawn graph, click a node and check the `reveal` message.
//
// Input: dist/ and media/ served on 127.0.0.1, /usr/bin/chromium (or $CHROMIUM), the nodejs WASM
// planner for the plan messages. Output: test results and tests/artifacts/vscode-preview-<theme>.png
// (dark, light, dark-hc, light-hc) and vscode-preview-large-{fit,focus,find}.png.
// Invariant: nothing is downloaded; the browser runs headless, no sandbox, no background
// networking, in a fresh temporary profile.
import assert from "node:assert/strict";
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";

import { belowAA, controlTextContrasts, nodeTextContrasts } from "./contrast.mjs";
import { extensionDir, loadPlanner, loadSource, rootDir, SAMPLE } from "./helpers.mjs";

const TYPES = { ".js": "text/javascript", ".css": "text/css", ".wasm": "application/wasm" };

/**
 * The theme variables VS Code 1.100.3 gives the webview (those media/preview.css uses) and the
 * body classes, for Dark Modern, Light Modern and both High Contrast themes, as the real-editor
 * test recorded them in code-server (real-editor/code-server.test.mjs, UPDATE_THEMES=1).
 */
const THEMES = JSON.parse(readFileSync(join(extensionDir, "test", "fixtures", "vscode-themes.json"), "utf8")).themes;

/** The screenshot name of each recorded theme (tests/artifacts/vscode-preview-<slug>.png), as the real-editor test names them. */
const THEME_SLUGS = { "Dark Modern": "dark", "Light Modern": "light", "Dark High Contrast": "dark-hc", "Light High Contrast": "light-hc" };

/** Sets a recorded theme on the page the way VS Code does: variables on <html>, classes on <body>. */
function applyTheme(theme) {
  for (const name of [...document.body.classList]) if (name.startsWith("vscode-")) document.body.classList.remove(name);
  for (const name of theme.bodyClass.split(" ")) document.body.classList.add(name);
  for (const [name, value] of Object.entries(theme.variables)) {
    if (value === null) document.documentElement.style.removeProperty(name);
    else document.documentElement.style.setProperty(name, value);
  }
}

let server;
let origin;
let context;
let profileDir;
let page;
let planner;
let html;
let analysis;
const problems = [];

/** Serves the page at / and the extension's dist/ and media/ files. */
function serve(pageText) {
  server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://localhost").pathname);
    if (path === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(pageText());
      return;
    }
    const file = normalize(join(extensionDir, path));
    const allowed = [join(extensionDir, "dist"), join(extensionDir, "media")].some((dir) => file.startsWith(dir + "/"));
    if (!allowed || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${server.address().port}`)));
}

const posted = () => page.evaluate(() => window.__posted);
const postToWebview = (message) => page.evaluate((data) => window.postMessage(data, "*"), message);

function planMessage(options = {}, extra = {}, text = SAMPLE) {
  const outcome = planner.plan(text, options);
  return {
    type: "plan",
    uri: "file:///work/app/Dockerfile",
    fileName: "Dockerfile",
    plan: outcome.plan,
    fallback: null,
    diagnostics: outcome.diagnostics,
    options: { targets: options.targets ?? [], build_args: options.build_args ?? {} },
    currentStage: null,
    ...extra,
  };
}

before(async () => {
  assert.ok(existsSync(join(extensionDir, "dist", "webview.js")), "dist/webview.js is missing; run `npm --prefix web/extension run build`");
  planner = loadPlanner();
  html = await loadSource("html.ts");
  analysis = await loadSource("analysis.ts");
  origin = await serve(() =>
    html.previewHtml({
      cspSource: origin,
      nonce: currentNonce,
      scriptUri: `${origin}/dist/webview.js`,
      styleUri: `${origin}/media/preview.css`,
    }),
  );
  const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
  assert.ok(existsSync(executablePath), `${executablePath} is missing; run scripts/setup.sh (apt-get install chromium)`);
  profileDir = mkdtempSync(join(tmpdir(), "stageplan-chromium-"));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage", "--no-first-run"],
    viewport: { width: 900, height: 720 },
    colorScheme: "dark",
  });
  // The init script's source carries applyTheme's own text (no eval: the page's CSP forbids it).
  const initPage = (theme, apply) => {
    window.__posted = [];
    window.__cspViolations = [];
    let state;
    window.acquireVsCodeApi = () => ({
      postMessage: (message) => window.__posted.push(JSON.parse(JSON.stringify(message))),
      getState: () => state,
      // Recorded for the test: what VS Code would hand back to the serializer after a reload.
      setState: (next) => (state = window.__state = JSON.parse(JSON.stringify(next))),
    });
    document.addEventListener("securitypolicyviolation", (event) => window.__cspViolations.push(`${event.violatedDirective}: ${event.blockedURI}`));
    document.addEventListener("DOMContentLoaded", () => apply(theme));
  };
  await context.addInitScript({ content: `(${initPage})(${JSON.stringify(THEMES["Dark Modern"])}, ${applyTheme});` });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (err) => problems.push(err.message));
  page.on("console", (msg) => {
    // Chromium asks every page for /favicon.ico; a VS Code webview does not.
    if (msg.type() === "error" && !msg.location().url.endsWith("/favicon.ico")) problems.push(msg.text());
  });
  await page.goto(origin + "/");
});

let currentNonce = "N0nce0fTheTest0000000000000000aa";

after(async () => {
  await context?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
});

describe("preview webview in Chromium", () => {
  it("loads under the CSP and says it is ready", async () => {
    await page.waitForFunction(() => window.__posted.some((message) => message.type === "ready"));
    assert.deepEqual(await posted(), [{ type: "ready" }]);
  });

  it("draws the plan it is sent: needed and skipped stages, images, targets", async () => {
    await postToWebview(planMessage());
    await page.waitForSelector("body[data-ready='true'] [data-stage-index]");
    const nodes = await page.$$eval("[data-stage-index]", (elements) =>
      elements.map((element) => [element.dataset.stageName, element.dataset.needed, element.classList.contains("sp-target")]),
    );
    assert.deepEqual(nodes, [
      ["tools", "true", false],
      ["build", "true", false],
      ["test", "false", false],
      ["docs", "false", false],
      ["prod", "true", true],
    ]);
    // Images are badges on their stages until the Images toggle draws them as boxes.
    assert.equal(await page.getAttribute("[data-stage-name='build'] .sp-badge", "data-images"), "golang:1.22");
    await page.click("[data-testid='graph-images']");
    const images = await page.$$eval(".sp-image", (elements) => elements.map((element) => element.textContent));
    assert.ok(images.some((text) => text.includes("golang:1.22")), `image nodes: ${images}`);
    await page.click("[data-testid='graph-images']");
    assert.match(await page.textContent("[data-testid='summary']"), /target prod: 3 of 5 stages in 3 waves, 2 skipped/);
    assert.equal(await page.textContent("[data-testid='file-name']"), "Dockerfile");
    const options = await page.$$eval("[data-testid='target-select'] option", (elements) => elements.map((element) => element.value));
    assert.deepEqual(options, ["tools", "build", "test", "docs", "prod"]);
  });

  it("keeps the file and options in the webview state, for a reload", async () => {
    assert.deepEqual(await page.evaluate(() => window.__state), {
      uri: "file:///work/app/Dockerfile",
      fileName: "Dockerfile",
      options: { targets: [], build_args: {} },
    });
  });

  it("posts reveal with the FROM line when a node is clicked", async () => {
    await page.click("[data-stage-name='build']");
    assert.deepEqual((await posted()).at(-1), { type: "reveal", stageIndex: 1, line: 5 });
    await page.focus("[data-stage-name='docs']");
    await page.keyboard.press("Enter");
    assert.deepEqual((await posted()).at(-1), { type: "reveal", stageIndex: 3, line: 11 });
  });

  it("highlights the stage under the editor's cursor", async () => {
    await postToWebview({ type: "cursor", currentStage: 2 });
    await page.waitForSelector("[data-stage-name='test'].sp-current");
    assert.equal(await page.$$eval(".sp-current", (elements) => elements.length), 1);
  });

  it("posts the targets and build args chosen in the toolbar", async () => {
    await page.selectOption("[data-testid='target-select']", ["test"]);
    assert.deepEqual((await posted()).at(-1), { type: "options", targets: ["test"], build_args: {} });
    await page.fill("[data-testid='build-args']", "GO_VERSION=1.23\n# comment\n");
    await page.waitForFunction(() => window.__posted.at(-1).build_args?.GO_VERSION === "1.23");
    assert.deepEqual((await posted()).at(-1), { type: "options", targets: ["test"], build_args: { GO_VERSION: "1.23" } });
    await page.fill("[data-testid='build-args']", "oops");
    await page.waitForSelector("[data-testid='build-args'].invalid");
  });

  it("redraws for the chosen target", async () => {
    await page.fill("[data-testid='build-args']", "");
    await postToWebview(planMessage({ targets: ["test"] }, { currentStage: 2 }));
    await page.waitForSelector("[data-stage-name='test'][data-needed='true']");
    assert.equal(await page.getAttribute("[data-stage-name='prod']", "data-needed"), "false");
    assert.deepEqual(await page.$$eval("[data-testid='target-select'] option:checked", (elements) => elements.map((element) => element.value)), ["test"]);
  });

  it("shows errors with the last good plan greyed, and a clicked diagnostic posts goto", async () => {
    const broken = planner.plan(SAMPLE + "FROM\n", {});
    assert.equal(broken.plan, null);
    await postToWebview({ ...planMessage(), plan: null, fallback: { source: "last-good", plan: planner.plan(SAMPLE, {}).plan }, diagnostics: broken.diagnostics });
    await page.waitForSelector("body.stale");
    assert.match(await page.textContent("[data-testid='summary']"), /no plan: 1 error \(showing the last plan that worked\)/);
    assert.equal(await page.$$eval("[data-stage-index]", (elements) => elements.length), 5);
    await page.click("[data-testid='diagnostics'] li.error");
    assert.equal((await posted()).at(-1).type, "goto");
    assert.equal((await posted()).at(-1).line, 16);
  });

  it("draws the stages that could be read from a file with errors", async () => {
    const text = SAMPLE.replace("RUN go test ./...", "RUNN go test ./...");
    const outline = planner.outline(text, {});
    assert.equal(outline.complete, false);
    const drawn = analysis.outlineAsPlan(outline, {});
    await postToWebview({ ...planMessage(), plan: null, fallback: { source: "outline", plan: drawn }, diagnostics: outline.diagnostics });
    await page.waitForFunction(() => document.querySelector("[data-testid='summary']")?.textContent.includes("could be read"));
    assert.equal(await page.textContent("[data-testid='summary']"), "no plan: 1 error (showing the stages that could be read)");
    assert.deepEqual(await page.$$eval("[data-stage-index]", (elements) => elements.map((element) => element.dataset.stageName)), ["tools", "build", "test", "docs", "prod"]);
    assert.ok(await page.$("body.stale"));
    // Only the drawing is greyed: the graph's controls above it stay readable.
    assert.deepEqual(belowAA(await controlTextContrasts(page)), [], "every control's text reaches 4.5:1 while the drawing is stale");
    await page.click("[data-stage-name='build']");
    assert.deepEqual((await posted()).at(-1), { type: "reveal", stageIndex: 1, line: 5 });
  });

  it("keeps a strict CSP: the page has no violations, and an injected inline script does not run", async () => {
    await postToWebview(planMessage({}, { currentStage: 1 }));
    await page.waitForFunction(() => !document.body.classList.contains("stale"));
    assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
    assert.deepEqual(problems, [], "no errors on the console or in the page so far");
    await page.evaluate(() => {
      const script = document.createElement("script");
      script.textContent = "window.__injected = true";
      document.body.append(script);
    });
    await page.waitForFunction(() => window.__cspViolations.length > 0);
    assert.equal(await page.evaluate(() => window.__injected ?? false), false);
    assert.match((await page.evaluate(() => window.__cspViolations))[0], /^script-src/);
    // A script the page's own nonce allows still may not eval (no 'unsafe-eval'). The eval runs from
    // a timer: during page.evaluate itself, DevTools lets code generation through.
    await page.evaluate((nonce) => {
      const script = document.createElement("script");
      script.nonce = nonce;
      script.textContent = "setTimeout(() => { try { window.__evaluated = eval('1 + 1'); } catch (err) { window.__evaluated = err.name; } }, 50);";
      document.body.append(script);
    }, currentNonce);
    await page.waitForFunction(() => window.__evaluated !== undefined);
    assert.equal(await page.evaluate(() => window.__evaluated), "EvalError");
  });

  it("uses the theme's colours, with node and control text readable in Dark, Light and both High Contrast themes", async () => {
    await postToWebview(planMessage({ targets: ["build"] }, { currentStage: 0 }));
    await page.waitForFunction(() => !document.body.classList.contains("stale") && document.querySelector(".sp-current"));
    // A click on the drawing's background clears the selection an earlier test's click made (its
    // lineage view fades the other stages).
    await page.$eval("[data-testid='graph-canvas']", (canvas) => canvas.click());
    await page.waitForFunction(() => !document.querySelector("svg.sp-graph.sp-has-selection"));
    const target = await page.$eval("[data-stage-name='build'] rect", (element) => getComputedStyle(element).stroke);
    assert.equal(target, "rgb(209, 134, 22)", "the target outline is --vscode-charts-orange");
    assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), "rgb(31, 31, 31)");
    // A find, so the find mark and the find status are drawn too; then the whole graph again.
    await page.fill("[data-testid='graph-find']", "doc");
    await page.press("[data-testid='graph-find']", "Enter");
    await page.waitForSelector("[data-stage-name='docs'].sp-found");
    assert.equal(await page.textContent("[data-testid='graph-find-status']"), "found docs");
    await page.click("[data-testid='graph-fit']");
    mkdirSync(join(rootDir, "tests", "artifacts"), { recursive: true });
    assert.deepEqual(Object.keys(THEMES), Object.keys(THEME_SLUGS));
    for (const [label, theme] of Object.entries(THEMES)) {
      // VS Code swaps the variables when the theme changes; the preview follows without a redraw.
      await page.evaluate(applyTheme, theme);
      // Images as badges on their stages (the default), then as boxes (the Images toggle).
      assert.ok(await page.$(".sp-stage .sp-badge text"), `${label}: an image badge`);
      const withBadges = await nodeTextContrasts(page);
      await page.click("[data-testid='graph-images']");
      for (const kind of ["sp-target", "sp-current", "sp-needed", "sp-skipped", "sp-image"]) assert.ok(await page.$(`.sp-node.${kind}`), `${label}: a ${kind} node`);
      assert.deepEqual(belowAA([...withBadges, ...(await nodeTextContrasts(page))]), [], `${label}: every node and badge text reaches 4.5:1 against its fill`);
      const controls = await controlTextContrasts(page);
      for (const name of ["graph-find", "graph-find placeholder", "graph-find-status", "graph-focus", "graph-images", "graph-zoom-in", "graph-fit", "export-png", "graph-tooltip"]) {
        assert.ok(controls.some((entry) => entry.node === name), `${label}: ${name} measured`);
      }
      assert.deepEqual(belowAA(controls), [], `${label}: every control's text reaches 4.5:1 against what is under it`);
      await page.screenshot({ path: join(rootDir, "tests", "artifacts", `vscode-preview-${THEME_SLUGS[label]}.png`) });
      await page.click("[data-testid='graph-images']");
    }
    const lightHighContrast = await page.$eval("[data-stage-name='build'] rect", (element) => [getComputedStyle(element).fill, getComputedStyle(element).stroke]);
    assert.deepEqual(lightHighContrast, ["rgb(255, 255, 255)", "rgb(0, 107, 189)"], "Light High Contrast: the editor background, outlined in contrastActiveBorder");
    const controlBorder = await page.$eval("[data-testid='graph-focus']", (element) => getComputedStyle(element).borderTopColor);
    assert.equal(controlBorder, "rgb(15, 74, 133)", "Light High Contrast: controls outlined in contrastBorder");
    await page.fill("[data-testid='graph-find']", "");
    await page.press("[data-testid='graph-find']", "Escape");
  });

  it("large file: the whole graph in view, focus, find with the planner's did-you-mean, zoom and pan, exports", async () => {
    const neon = readFileSync(join(rootDir, "tests", "fixtures", "dockerfiles", "large", "neondatabase-neon-compute-node.Dockerfile"), "utf8");
    // Neon's compute image needs its PostgreSQL version (`${PG_VERSION:?}`), as in BuildKit.
    const neonOptions = { build_args: { PG_VERSION: "v17" } };
    const plan = planner.plan(neon, neonOptions).plan;
    // The earlier CSP test provoked violations on purpose; this one must add none.
    const violationsBefore = await page.evaluate(() => window.__cspViolations.length);
    const problemsBefore = problems.length;
    await postToWebview(planMessage(neonOptions, { fileName: "compute-node.Dockerfile" }, neon));
    await page.waitForFunction(() => document.querySelectorAll("[data-stage-index]").length === 98);
    const geometry = () =>
      page.evaluate(() => {
        const rect = (element) => {
          const box = element.getBoundingClientRect();
          return { x: box.x, y: box.y, width: box.width, height: box.height };
        };
        return {
          canvas: rect(document.querySelector("[data-testid='graph-canvas']")),
          nodes: [...document.querySelectorAll(".sp-node rect")].map(rect),
          scale: Number(document.querySelector("svg.sp-graph").dataset.scale),
        };
      });
    const inside = ({ canvas, nodes }) =>
      nodes.every((node) => node.x >= canvas.x - 1 && node.y >= canvas.y - 1 && node.x + node.width <= canvas.x + canvas.width + 1 && node.y + node.height <= canvas.y + canvas.height + 1);
    const fitted = await geometry();
    assert.ok(inside(fitted), "every box inside the preview after load");
    await page.screenshot({ path: join(rootDir, "tests", "artifacts", "vscode-preview-large-fit.png") });

    // Focus: exactly the needed stages, the rest folded into one marker.
    await page.click("[data-testid='graph-focus']");
    const drawn = await page.$$eval("[data-stage-index]", (nodes) => nodes.map((node) => Number(node.dataset.stageIndex)));
    assert.deepEqual(drawn, plan.stages.filter((stage) => stage.needed).map((stage) => stage.index));
    assert.equal(await page.textContent("[data-fold] .sp-label"), `${plan.stages.length - drawn.length} skipped`);
    await page.screenshot({ path: join(rootDir, "tests", "artifacts", "vscode-preview-large-focus.png") });
    await page.click("[data-testid='graph-focus']");

    // Find: a misspelled name asks the host, which answers with the planner's suggestion.
    const answered = posted().then((messages) => messages.length);
    await page.fill("[data-testid='graph-find']", "pg-bild");
    await page.press("[data-testid='graph-find']", "Enter");
    await page.waitForFunction((count) => window.__posted.length > count && window.__posted.at(-1).type === "suggest", await answered);
    const ask = (await posted()).at(-1);
    assert.equal(ask.value, "pg-bild");
    assert.deepEqual(ask.names, plan.stages.map((stage) => stage.name).filter(Boolean));
    await postToWebview({ type: "suggestion", id: ask.id, suggestion: planner.suggestStage(ask.value, ask.names) });
    await page.waitForSelector("[data-testid='graph-find-suggestion']");
    assert.equal(await page.textContent("[data-testid='graph-find-status']"), 'no stage "pg-bild"; did you mean pg-build?');
    await page.click("[data-testid='graph-find-suggestion']");
    await page.waitForSelector("[data-stage-name='pg-build'].sp-found");
    const found = await geometry();
    const box = await page.$eval("[data-stage-name='pg-build'] rect", (rect) => {
      const b = rect.getBoundingClientRect();
      return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
    });
    const middle = { x: found.canvas.x + found.canvas.width / 2, y: found.canvas.y + found.canvas.height / 2 };
    assert.ok(Math.abs(box.x - middle.x) < 2 && Math.abs(box.y - middle.y) < 2, `pg-build centred: ${JSON.stringify(box)} vs ${JSON.stringify(middle)}`);
    await page.screenshot({ path: join(rootDir, "tests", "artifacts", "vscode-preview-large-find.png") });

    // Wheel zooms around the pointer; keys zoom, pan and fit.
    await page.mouse.move(box.x, box.y);
    await page.mouse.wheel(0, 300);
    await page.waitForFunction((scale) => Number(document.querySelector("svg.sp-graph").dataset.scale) < scale, found.scale);
    const after = await page.$eval("[data-stage-name='pg-build'] rect", (rect) => {
      const b = rect.getBoundingClientRect();
      return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
    });
    assert.ok(Math.abs(after.x - box.x) < 1.5 && Math.abs(after.y - box.y) < 1.5, "the point under the pointer stays");
    await page.focus("[data-testid='graph-canvas']");
    const zoomed = (await geometry()).scale;
    await page.keyboard.press("+");
    assert.ok(Math.abs((await geometry()).scale - zoomed * 1.25) < 0.002);
    await page.keyboard.press("0");
    assert.ok(inside(await geometry()), "0 shows the whole graph again");

    // A double click makes the stage the only target; exports go to the host to be saved.
    await page.dblclick("[data-stage-name='pg-build']", { force: true });
    await page.waitForFunction(() => window.__posted.at(-1).type === "options");
    assert.deepEqual((await posted()).at(-1), { type: "options", targets: ["pg-build"], build_args: neonOptions.build_args });
    await page.click("[data-testid='export-svg']");
    await page.waitForFunction(() => window.__posted.at(-1).type === "export");
    const exported = (await posted()).at(-1);
    assert.equal(exported.name, "stages.svg");
    const svgText = Buffer.from(exported.base64, "base64").toString("utf8");
    assert.match(svgText, /^<\?xml/);
    assert.equal((svgText.match(/data-stage-index=/g) ?? []).length, 98);
    await page.click("[data-testid='export-png']");
    await page.waitForFunction(() => window.__posted.at(-1).type === "export" && window.__posted.at(-1).name === "stages.png");
    const png = Buffer.from((await posted()).at(-1).base64, "base64");
    assert.equal(png.subarray(1, 4).toString("latin1"), "PNG");
    assert.deepEqual(await page.evaluate((count) => window.__cspViolations.slice(count), violationsBefore), [], "no CSP violations (the PNG is drawn from a data: URL)");
    assert.deepEqual(problems.slice(problemsBefore), [], "no errors on the console or in the page");
  });

  it("draws the latest build record of the file's lens builds on its graph, under the CSP, in both themes", async () => {
    const seed = readFileSync(join(rootDir, "examples", "seed", "Dockerfile"), "utf8");
    const record = JSON.parse(readFileSync(join(rootDir, "tests", "fixtures", "records", "seed-app-go-changed.record.json"), "utf8"));
    const violationsBefore = await page.evaluate(() => window.__cspViolations.length);
    const problemsBefore = problems.length;
    // Another file: a message without a plan drops the large graph, the seed's is drawn afresh.
    await postToWebview({ ...planMessage({}, {}, seed), plan: null, lastGoodPlan: null, diagnostics: [] });
    await page.waitForFunction(() => document.querySelectorAll("[data-stage-index]").length === 0);
    await postToWebview(planMessage({}, {}, seed));
    await page.waitForSelector("[data-stage-name='builder']");
    await postToWebview({ type: "record", uri: "file:///work/app/Dockerfile", record, problem: null });
    await page.waitForSelector("[data-stage-name='builder'] .sp-ov-badge");

    const marks = await page.$$eval("[data-stage-index]", (nodes) =>
      nodes.map((node) => [node.dataset.stageName, node.querySelector(".sp-ov-badge")?.textContent, node.classList.contains("sp-critical")]),
    );
    assert.deepEqual(marks, [
      ["builder", "2 ran · 1 cached", true],
      ["", "1 ran · 1 cached", true],
    ]);
    assert.match(await page.textContent("[data-testid='record-summary']"), /^last build built in .* · 3 of 5 steps ran · critical path builder #2 → builder #3 → stage-1 #2$/);
    const ring = () => page.$eval("[data-stage-name='builder'] rect.sp-ov-ring", (rect) => getComputedStyle(rect).stroke);
    await page.evaluate(applyTheme, THEMES["Light Modern"]);
    assert.equal(await ring(), "rgb(112, 72, 232)", "light theme");
    await page.screenshot({ path: join(rootDir, "tests", "artifacts", "vscode-preview-record-light.png") });
    await page.evaluate(applyTheme, THEMES["Dark Modern"]);
    assert.equal(await ring(), "rgb(177, 151, 252)", "dark theme");
    await page.screenshot({ path: join(rootDir, "tests", "artifacts", "vscode-preview-record-dark.png") });
    // Typing keeps the marks on the same stages; a file without a record shows none.
    await postToWebview(planMessage({}, {}, "# a comment\n" + seed));
    await page.waitForFunction(() => document.querySelector("[data-stage-name='builder'] .sp-ov-badge")?.textContent === "2 ran · 1 cached");
    await postToWebview({ type: "record", uri: "file:///work/app/Dockerfile", record: null, problem: null });
    await page.waitForFunction(() => document.querySelectorAll(".sp-ov-badge").length === 0);
    assert.ok(await page.isHidden("[data-testid='record-summary']"));
    assert.deepEqual(await page.evaluate((count) => window.__cspViolations.slice(count), violationsBefore), []);
    assert.deepEqual(problems.slice(problemsBefore), []);
  });
});

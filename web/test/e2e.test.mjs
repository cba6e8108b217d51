// End-to-end tests of the playground in headless Chromium: type into the real editor, choose
// targets (select and node clicks), read the graph's needed/skipped nodes, the diagnostics,
// click-to-source, cursor highlighting, build args and the share-URL round trip.
//
// Input: web/dist (built) served on 127.0.0.1, /usr/bin/chromium. Output: test results and
// screenshots in tests/artifacts/ (light and dark).
// Invariant: every assertion reads what the user sees (DOM of the page), never internals.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { artifactsDir, distDir, launchBrowser, openPlayground, serveStatic } from "./harness.mjs";

const THREE_STAGES = [
  "FROM alpine:3.20 AS base",
  "RUN echo base > /base",
  "",
  "FROM base AS tools",
  "RUN echo tools > /tools",
  "",
  "FROM base AS app",
  "COPY --from=base /base /app/base",
  'CMD ["cat", "/app/base"]',
  "",
].join("\n");

let server;
let browser;

before(async () => {
  mkdirSync(artifactsDir, { recursive: true });
  server = await serveStatic(distDir);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Replaces the editor's text as a user would: click, select all, type (insertText for speed). */
async function replaceText(page, text) {
  await page.click(".cm-content");
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(text);
}

/** Waits until the graph shows the given stages with the given needed flags. */
async function expectNodes(page, expected) {
  await page.waitForFunction(
    (want) => {
      const nodes = [...document.querySelectorAll("#graph [data-stage-index]")];
      const have = Object.fromEntries(nodes.map((node) => [node.dataset.stageName || node.dataset.stageIndex, node.dataset.needed]));
      return Object.entries(want).every(([name, needed]) => have[name] === String(needed)) && nodes.length === Object.keys(want).length;
    },
    expected,
    { timeout: 5000 },
  ).catch(async () => {
    const have = await page.$$eval("#graph [data-stage-index]", (nodes) => nodes.map((n) => `${n.dataset.stageName}:${n.dataset.needed}`));
    assert.fail(`graph nodes ${JSON.stringify(have)} do not match ${JSON.stringify(expected)}`);
  });
}

async function planJson(page) {
  return JSON.parse(await page.textContent('[data-testid="plan-json"]'));
}

async function selectedTargets(page) {
  return page.$$eval('[data-testid="target-select"] option:checked', (options) => options.map((option) => option.value));
}

describe("playground", () => {
  test("loads the seed's multi-stage Dockerfile and draws both stages as needed", async () => {
    const { page, context, errors } = await openPlayground(browser, server.url);
    await expectNodes(page, { builder: true, 1: true });
    // Images are a badge on their stage until the Images toggle draws them as boxes.
    assert.equal(await page.getAttribute('#graph [data-stage-name="builder"] .sp-badge', "data-images"), "stageplan-seed/golang:1.19");
    await page.click('[data-testid="graph-images"]');
    const image = await page.getAttribute('#graph [data-image="stageplan-seed/golang:1.19"]', "data-needed");
    assert.equal(image, "true");
    // --target builder (the seed's first stage) skips the runtime stage.
    await page.selectOption('[data-testid="target-select"]', ["builder"]);
    await expectNodes(page, { builder: true, 1: false });
    assert.equal(await page.getAttribute('#graph [data-image="stageplan-seed/runtime:1"]', "data-needed"), "false");
    await page.selectOption('[data-testid="target-select"]', []);
    await expectNodes(page, { builder: true, 1: true });
    assert.match(await page.textContent('[data-testid="status"]'), /2 stages, 2 needed/);
    await page.screenshot({ path: join(artifactsDir, "playground-seed.png") });
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("typing a Dockerfile re-plans: the default target skips unused stages", async () => {
    const { page, context } = await openPlayground(browser, server.url);
    await replaceText(page, THREE_STAGES);
    await expectNodes(page, { base: true, tools: false, app: true });
    const plan = await planJson(page);
    assert.deepEqual(plan.targets, [2]);
    assert.deepEqual(plan.waves, [[0], [2]]);
    // Real keystrokes: rename the last stage and watch the select follow.
    await page.click(".cm-content");
    await page.keyboard.press("ControlOrMeta+End");
    await page.keyboard.type("FROM tools AS release\nRUN true\n");
    await expectNodes(page, { base: true, tools: true, app: false, release: true });
    const options = await page.$$eval('[data-testid="target-select"] option', (items) => items.map((item) => item.value));
    assert.deepEqual(options, ["base", "tools", "app", "release"]);
    await context.close();
  });

  test("targets from the select and from node double-clicks (shift-click adds)", async () => {
    const { page, context } = await openPlayground(browser, server.url);
    await replaceText(page, THREE_STAGES);
    await expectNodes(page, { base: true, tools: false, app: true });
    await page.selectOption('[data-testid="target-select"]', ["tools"]);
    await expectNodes(page, { base: true, tools: true, app: false });
    assert.deepEqual((await planJson(page)).targets, [1]);
    assert.equal(await page.getAttribute('#graph [data-stage-name="tools"]', "data-target"), "true");

    // A click selects (lineage, source line) and keeps the targets; a double click builds the stage.
    await page.click('#graph [data-stage-name="app"]');
    assert.deepEqual(await selectedTargets(page), ["tools"]);
    await page.dblclick('#graph [data-stage-name="app"]');
    await expectNodes(page, { base: true, tools: false, app: true });
    assert.deepEqual(await selectedTargets(page), ["app"]);

    await page.click('#graph [data-stage-name="tools"]', { modifiers: ["Shift"] });
    await expectNodes(page, { base: true, tools: true, app: true });
    assert.deepEqual((await planJson(page)).targets, [2, 1]);
    assert.match(await page.textContent('[data-testid="command-line"]'), /planner plan Dockerfile --target app --target tools > plan.json && runner plan.json/);
    await context.close();
  });

  test("errors show in the list and the gutter, and the last graph stays, dimmed", async () => {
    const { page, context } = await openPlayground(browser, server.url);
    await replaceText(page, THREE_STAGES);
    await expectNodes(page, { base: true, tools: false, app: true });
    await page.click(".cm-content");
    await page.keyboard.press("ControlOrMeta+End");
    await page.keyboard.type("COPY --from=9 /a /b\n");
    await page.waitForSelector('[data-testid="diagnostics"] li.diag.error');
    const items = await page.$$eval('[data-testid="diagnostics"] li.diag.error', (list) => list.map((li) => li.dataset.line));
    assert.ok(items.includes("10"), `an error on line 10 in ${JSON.stringify(items)}`);
    await page.waitForSelector(".cm-lint-marker-error");
    assert.equal(await page.getAttribute("#graph", "data-state"), "errors");
    assert.equal(await page.$$eval("#graph [data-stage-index]", (nodes) => nodes.length), 3);
    assert.match(await page.textContent('[data-testid="plan-json"]'), /no plan/);
    // Clicking the diagnostic moves the cursor to its line.
    await page.click('[data-testid="diagnostics"] li.diag.error[data-line="10"]');
    assert.match(await page.textContent(".cm-activeLine"), /--from=9/);
    await context.close();
  });

  test("an unknown target is reported and the stages stay drawn", async () => {
    const { page, context } = await openPlayground(browser, server.url);
    await replaceText(page, THREE_STAGES);
    await page.selectOption('[data-testid="target-select"]', ["tools"]);
    await expectNodes(page, { base: true, tools: true, app: false });
    // Renaming the stage in the text leaves the chosen target dangling.
    await page.click(".cm-content");
    await page.keyboard.press("ControlOrMeta+Home");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("End");
    await page.keyboard.type("x");
    await page.waitForSelector('[data-testid="diagnostics"] li.diag.error[data-line="0"]');
    assert.equal(await page.getAttribute("#graph", "data-state"), "targets-invalid");
    assert.equal(await page.$$eval("#graph [data-stage-index]", (nodes) => nodes.length), 3);
    const missing = await page.$$eval('[data-testid="target-select"] option[data-missing]', (list) => list.map((o) => o.value));
    assert.deepEqual(missing, ["tools"]);
    await context.close();
  });

  test("click-to-source and cursor-highlights-node", async () => {
    const { page, context } = await openPlayground(browser, server.url);
    await replaceText(page, THREE_STAGES);
    await expectNodes(page, { base: true, tools: false, app: true });
    await page.click('#graph [data-stage-name="tools"]');
    assert.equal((await page.textContent(".cm-activeLine")).trim(), "FROM base AS tools");
    // Moving the cursor into another stage marks that stage's node.
    await page.keyboard.press("ControlOrMeta+End");
    await page.waitForSelector('#graph [data-stage-name="app"].sp-current');
    await page.keyboard.press("ControlOrMeta+Home");
    await page.waitForSelector('#graph [data-stage-name="base"].sp-current');
    assert.equal(await page.$$eval("#graph .sp-current", (nodes) => nodes.length), 1);
    await context.close();
  });

  test("build args and platform reach the planner", async () => {
    const { page, context } = await openPlayground(browser, server.url);
    await replaceText(page, ["ARG BASE=alpine:3.20", "FROM ${BASE} AS base", "RUN true", ""].join("\n"));
    await page.waitForSelector('#graph .sp-badge[data-images="alpine:3.20"]');
    await page.fill('[data-testid="build-args"]', "BASE=debian:12\n");
    await page.waitForSelector('#graph .sp-badge[data-images="debian:12"]');
    await page.fill('[data-testid="platform"]', "linux/arm64");
    await page.waitForFunction(() => document.querySelector('[data-testid="plan-json"]').textContent.includes('"platform": "linux/arm64"'));
    const plan = await planJson(page);
    assert.deepEqual(plan.build_args, { BASE: "debian:12" });
    assert.deepEqual(plan.images, ["debian:12"]);
    assert.match(await page.textContent('[data-testid="command-line"]'), /--build-arg BASE=debian:12 --platform linux\/arm64/);
    await page.fill('[data-testid="build-args"]', "NOEQUALS\n");
    await page.waitForFunction(() => document.querySelector('[data-testid="build-args-error"]').textContent !== "");
    assert.match(await page.textContent('[data-testid="build-args-error"]'), /line 1: expected KEY=VALUE/);
    await context.close();
  });

  test("the share link restores text, targets and build args in a fresh browser context", async () => {
    const first = await openPlayground(browser, server.url);
    await replaceText(first.page, THREE_STAGES + "# shared ✓ ünïcode\n");
    await first.page.selectOption('[data-testid="target-select"]', ["tools", "app"]);
    await first.page.fill('[data-testid="build-args"]', "A=1\nB=two words\n");
    await first.page.click('[data-testid="share"]');
    await first.page.waitForFunction(() => location.hash.startsWith("#s="));
    const url = first.page.url();
    const text = await first.page.evaluate(() => window.stageplan.playground.editor.state.doc.toString());
    await first.context.close();

    const second = await openPlayground(browser, url);
    await expectNodes(second.page, { base: true, tools: true, app: true });
    assert.equal(await second.page.evaluate(() => window.stageplan.playground.editor.state.doc.toString()), text);
    assert.deepEqual(await selectedTargets(second.page), ["tools", "app"]);
    assert.equal(await second.page.inputValue('[data-testid="build-args"]'), "A=1\nB=two words\n");
    // A damaged link falls back and says so instead of failing.
    await second.page.goto(server.url + "#s=not-valid");
    await second.page.reload();
    await second.page.waitForSelector('body[data-ready="true"]');
    assert.match(await second.page.textContent('[data-testid="status"]'), /the share link is damaged/);
    await expectNodes(second.page, { base: true, tools: true, app: true });
    await second.context.close();
  });

  test("the .dockerignore box reaches the planner (CopyIgnoredFile) and the share link keeps it", async () => {
    const first = await openPlayground(browser, server.url);
    await replaceText(first.page, "FROM alpine AS app\nCOPY secret.txt notes.md /app/\n");
    await first.page.fill('[data-testid="dockerignore"]', "secret.txt\n");
    await first.page.waitForFunction(() => document.querySelector('[data-testid="diagnostics"]').textContent.includes("CopyIgnoredFile"));
    const text = await first.page.textContent('[data-testid="diagnostics"]');
    assert.match(text, /Attempting to Copy file "secret\.txt" that is excluded by \.dockerignore/);
    assert.doesNotMatch(text, /notes\.md/);
    await first.page.click('[data-testid="share"]');
    await first.page.waitForFunction(() => location.hash.startsWith("#s="));
    const url = first.page.url();
    await first.context.close();

    const second = await openPlayground(browser, url);
    assert.equal(await second.page.inputValue('[data-testid="dockerignore"]'), "secret.txt\n");
    await second.page.waitForFunction(() => document.querySelector('[data-testid="diagnostics"]').textContent.includes("CopyIgnoredFile"));
    // Emptying the box removes the warning.
    await second.page.fill('[data-testid="dockerignore"]', "");
    await second.page.waitForFunction(() => !document.querySelector('[data-testid="diagnostics"]').textContent.includes("CopyIgnoredFile"));
    await second.context.close();
  });

  test("the last session is restored from localStorage", async () => {
    const { page, context } = await openPlayground(browser, server.url);
    await replaceText(page, THREE_STAGES);
    await page.selectOption('[data-testid="target-select"]', ["tools"]);
    await expectNodes(page, { base: true, tools: true, app: false });
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    await expectNodes(page, { base: true, tools: true, app: false });
    await context.close();
  });

  test("every example plans without errors; the edge kinds are drawn", async () => {
    const { page, context, errors } = await openPlayground(browser, server.url);
    const ids = await page.$$eval('[data-testid="examples"] option', (options) => options.map((o) => o.value).filter(Boolean));
    assert.ok(ids.length >= 4);
    for (const id of ids) {
      await page.selectOption('[data-testid="examples"]', id);
      await page.waitForFunction(() => /needed/.test(document.querySelector('[data-testid="status"]').textContent));
      const errorCount = await page.$$eval('[data-testid="diagnostics"] li.diag.error', (list) => list.length);
      assert.equal(errorCount, 0, `example ${id} has errors`);
    }
    // The last example shows every edge kind, ONBUILD included; images drawn as boxes.
    await page.click('[data-testid="graph-images"]');
    const kinds = await page.$$eval("#graph .sp-edge-group", (groups) => groups.map((g) => g.dataset.edgeKind));
    for (const kind of ["from", "copy", "mount"]) assert.ok(kinds.includes(kind), `edge kind ${kind} in ${kinds}`);
    assert.ok((await page.$$("#graph path.sp-onbuild")).length > 0, "an ONBUILD edge");
    assert.ok((await page.$$("#graph .sp-image")).length > 0, "external image nodes");
    await page.screenshot({ path: join(artifactsDir, "playground-edges.png") });
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("the graph exports as a standalone SVG and a PNG; dark mode screenshot", async () => {
    const { page, context } = await openPlayground(browser, server.url, { colorScheme: "dark" });
    await page.selectOption('[data-testid="examples"]', "node");
    await page.waitForSelector('#graph [data-stage-name="runner"][data-target="true"]');
    const [download] = await Promise.all([page.waitForEvent("download"), page.click('[data-testid="export-svg"]')]);
    assert.equal(download.suggestedFilename(), "stages.svg");
    const path = await download.path();
    const svg = readFileSync(path, "utf8");
    assert.match(svg, /^<\?xml/);
    assert.match(svg, /<style>/);
    assert.match(svg, /data-stage-name="runner"/);
    // The colours in force (dark mode here) are written into the file.
    assert.match(svg, /svg\.sp-graph \{ --sp-fg: #e3e7ef;/);
    const [png] = await Promise.all([page.waitForEvent("download"), page.click('[data-testid="export-png"]')]);
    assert.equal(png.suggestedFilename(), "stages.png");
    const bytes = readFileSync(await png.path());
    assert.deepEqual([...bytes.subarray(1, 4)].map((byte) => String.fromCharCode(byte)).join(""), "PNG");
    // The whole drawing at twice its size: the IHDR chunk's width and height against the SVG's.
    const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)[1]);
    const height = Number(/<svg[^>]* height="(\d+)"/.exec(svg)[1]);
    assert.deepEqual([bytes.readUInt32BE(16), bytes.readUInt32BE(20)], [width * 2, height * 2]);
    await page.screenshot({ path: join(artifactsDir, "playground-dark.png") });
    await context.close();
  });
});

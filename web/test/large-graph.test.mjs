// End-to-end tests of the stage graph on real 49-98 stage Dockerfiles in headless Chromium: the
// whole graph in view after load, focus on the targets' stages, find (with the planner's "did you
// mean"), zoom and pan by wheel, keyboard and drag, the minimap, lineage, edge tooltips and the
// share link restoring targets, focus and zoom. Screenshots of each state go to tests/artifacts/.
//
// Input: web/dist served on 127.0.0.1, /usr/bin/chromium, tests/fixtures/dockerfiles/large/,
// web/pkg/node (for the planner's own suggestion). Output: test results and screenshots.
// Invariant: every assertion reads what the user sees (the page's DOM and geometry); the files go
// into the editor as pasted text; no assertion depends on timing.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { artifactsDir, distDir, launchBrowser, openPlayground, rootDir, serveStatic } from "./harness.mjs";

const planner = createRequire(join(rootDir, "package.json"))("./web/pkg/node");
const largeDir = join(rootDir, "tests", "fixtures", "dockerfiles", "large");
const BUILDKIT = readFileSync(join(largeDir, "moby-buildkit.Dockerfile"), "utf8");
const NEON = readFileSync(join(largeDir, "neondatabase-neon-compute-node.Dockerfile"), "utf8");
const MOBY = readFileSync(join(largeDir, "moby-moby.Dockerfile"), "utf8");

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

/** Opens the playground and pastes `text` into the editor (select all, then a paste event with the
 * text, as the clipboard delivers it); waits for the plan of `stages` stages. */
async function openWith(text, stages, options = {}) {
  const opened = await openPlayground(browser, server.url, options);
  const { page } = opened;
  // Neon's compute image needs its PostgreSQL version (`${PG_VERSION:?}`), as in BuildKit.
  if (text === NEON) await page.fill('[data-testid="build-args"]', "PG_VERSION=v17");
  await page.click(".cm-content");
  await page.keyboard.press("ControlOrMeta+a");
  await page.evaluate((pasted) => {
    const data = new DataTransfer();
    data.setData("text/plain", pasted);
    document.querySelector(".cm-content").dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  }, text);
  await page.waitForFunction((n) => document.querySelector('[data-testid="status"]').textContent.startsWith(`${n} stages`), stages);
  await page.waitForFunction((n) => document.querySelectorAll("#graph [data-stage-index]").length === n, stages);
  return opened;
}

/** The canvas rectangle and every drawn node's rectangle, in page pixels. */
async function geometry(page) {
  return page.evaluate(() => {
    const rect = (element) => {
      const box = element.getBoundingClientRect();
      return { x: box.x, y: box.y, width: box.width, height: box.height };
    };
    const canvas = rect(document.querySelector('[data-testid="graph-canvas"]'));
    const nodes = [...document.querySelectorAll("#graph .sp-node")].map((node) => ({ id: node.dataset.nodeId, ...rect(node.querySelector("rect")) }));
    return { canvas, nodes, scale: Number(document.querySelector("#graph svg.sp-graph").dataset.scale) };
  });
}

function centreOf(box) {
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

async function nodeBox(page, selector) {
  const box = await page.$eval(`#graph ${selector} rect`, (rect) => {
    const b = rect.getBoundingClientRect();
    return { x: b.x, y: b.y, width: b.width, height: b.height };
  });
  return box;
}

function assertAllInside({ canvas, nodes }, label) {
  assert.ok(nodes.length > 0, label);
  for (const node of nodes) {
    const inside = node.x >= canvas.x - 1 && node.y >= canvas.y - 1 && node.x + node.width <= canvas.x + canvas.width + 1 && node.y + node.height <= canvas.y + canvas.height + 1;
    assert.ok(inside, `${label}: ${node.id} at ${JSON.stringify(node)} is outside the canvas ${JSON.stringify(canvas)}`);
  }
}

async function planJson(page) {
  return JSON.parse(await page.textContent('[data-testid="plan-json"]'));
}

async function shot(page, name) {
  await page.screenshot({ path: join(artifactsDir, `graph-${name}.png`) });
}

describe("stage graph of real large Dockerfiles", () => {
  test("the whole graph is in view after load, labels hidden while too small to read", async () => {
    for (const [name, text, stages] of [["buildkit", BUILDKIT, 49], ["moby", MOBY, 59], ["neon", NEON, 98]]) {
      const { page, context, errors } = await openWith(text, stages);
      const seen = await geometry(page);
      assertAllInside(seen, name);
      assert.ok(seen.scale < 1, `${name}: shrunk to fit (scale ${seen.scale})`);
      const far = await page.$eval("#graph svg.sp-graph", (svg) => svg.classList.contains("sp-far"));
      assert.equal(far, seen.scale < 0.54, `${name}: labels hidden exactly below the readable scale`);
      const labelShown = await page.$eval("#graph .sp-stage .sp-label", (label) => getComputedStyle(label).display !== "none");
      assert.equal(labelShown, !far);
      assert.equal(await page.isVisible('[data-testid="graph-minimap"]'), false, `${name}: no minimap while everything is in view`);
      await shot(page, `${name}-fit`);
      assert.deepEqual(errors, [], `${name}: no console errors`);
      await context.close();
    }
  });

  test("focus shows exactly the stages the targets need; the skipped ones fold into one marker", async () => {
    const { page, context, errors } = await openWith(BUILDKIT, 49);
    await page.selectOption('[data-testid="target-select"]', ["integration-tests"]);
    await page.waitForFunction(() => document.querySelector('#graph [data-stage-name="integration-tests"]')?.dataset.target === "true");
    const plan = await planJson(page);
    const needed = plan.stages.filter((stage) => stage.needed).map((stage) => String(stage.index));
    await page.click('[data-testid="graph-focus"]');
    assert.equal(await page.getAttribute('[data-testid="graph-focus"]', "aria-pressed"), "true");
    const drawn = await page.$$eval("#graph [data-stage-index]", (nodes) => nodes.map((node) => node.dataset.stageIndex));
    assert.deepEqual(drawn, needed);
    assert.equal(await page.textContent("#graph [data-fold] .sp-label"), `${plan.stages.length - needed.length} skipped`);
    assertAllInside(await geometry(page), "focus");
    await shot(page, "buildkit-focus");
    // The marker expands on click.
    await page.click("#graph [data-fold]");
    await page.waitForFunction(() => document.querySelectorAll("#graph [data-stage-index]").length === 49);
    assert.equal(await page.getAttribute('[data-testid="graph-focus"]', "aria-pressed"), "false");
    assert.equal(await page.$("#graph [data-fold]"), null);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("find centres and marks a stage; a misspelled name gets the planner's did-you-mean", async () => {
    const { page, context, errors } = await openWith(NEON, 98);
    const find = async (query) => {
      await page.fill('[data-testid="graph-find"]', query);
      await page.press('[data-testid="graph-find"]', "Enter");
    };
    const expectCentred = async (name) => {
      await page.waitForSelector(`#graph [data-stage-name="${name}"].sp-found`);
      const { canvas, scale } = await geometry(page);
      const node = centreOf(await nodeBox(page, `[data-stage-name="${name}"]`));
      const middle = centreOf(canvas);
      assert.ok(Math.abs(node.x - middle.x) < 2 && Math.abs(node.y - middle.y) < 2, `${name} at ${JSON.stringify(node)}, canvas centre ${JSON.stringify(middle)}`);
      assert.ok(scale >= 1, "zoomed in far enough to read the labels");
      assert.equal(await page.$eval("#graph svg.sp-graph", (svg) => svg.classList.contains("sp-far")), false);
    };
    await find("postgis-build");
    await expectCentred("postgis-build");
    assert.match(await page.textContent('[data-testid="graph-find-status"]'), /postgis-build/);
    assert.equal(await page.isVisible('[data-testid="graph-minimap"]'), true, "the minimap shows while zoomed in");
    await shot(page, "neon-find");
    const names = (await planJson(page)).stages.map((stage) => stage.name).filter(Boolean);
    const suggestion = planner.suggestStage("pg-bild", names);
    assert.equal(suggestion, "pg-build");
    await find("pg-bild");
    assert.equal(await page.textContent('[data-testid="graph-find-status"]'), `no stage "pg-bild"; did you mean ${suggestion}?`);
    await shot(page, "neon-did-you-mean");
    await page.click('[data-testid="graph-find-suggestion"]');
    await expectCentred("pg-build");
    await find("nothing-like-this-at-all");
    assert.equal(await page.textContent('[data-testid="graph-find-status"]'), 'no stage "nothing-like-this-at-all"');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("find unfolds a stage that focus hides", async () => {
    const { page, context } = await openWith(BUILDKIT, 49);
    const skipped = (await planJson(page)).stages.find((stage) => !stage.needed && stage.name).name;
    await page.click('[data-testid="graph-focus"]');
    assert.equal(await page.$(`#graph [data-stage-name="${skipped}"]`), null);
    await page.fill('[data-testid="graph-find"]', skipped);
    await page.press('[data-testid="graph-find"]', "Enter");
    await page.waitForSelector(`#graph [data-stage-name="${skipped}"].sp-found`);
    assert.equal(await page.getAttribute('[data-testid="graph-focus"]', "aria-pressed"), "false");
    await context.close();
  });

  test("zoom around the pointer with the wheel, keys + − 0 and arrows, drag to pan, minimap", async () => {
    const { page, context, errors } = await openWith(BUILDKIT, 49);
    const fitted = await geometry(page);
    const target = '[data-stage-name="buildkit-export"]';
    const before = centreOf(await nodeBox(page, target));
    await page.mouse.move(before.x, before.y);
    await page.mouse.wheel(0, -600);
    await page.waitForFunction((scale) => Number(document.querySelector("#graph svg.sp-graph").dataset.scale) > scale * 1.5, fitted.scale);
    const zoomed = await geometry(page);
    const after = centreOf(await nodeBox(page, target));
    assert.ok(Math.abs(after.x - before.x) < 1.5 && Math.abs(after.y - before.y) < 1.5, `the point under the pointer stays: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
    await shot(page, "buildkit-wheel-zoom");

    // Keyboard on the focused canvas.
    await page.focus('[data-testid="graph-canvas"]');
    await page.keyboard.press("+");
    assert.ok(Math.abs((await geometry(page)).scale - Math.min(3, zoomed.scale * 1.25)) < 0.002);
    await page.keyboard.press("-");
    assert.ok(Math.abs((await geometry(page)).scale - zoomed.scale) < 0.002);
    const beforeKey = centreOf(await nodeBox(page, target));
    await page.keyboard.press("ArrowRight");
    const afterKey = centreOf(await nodeBox(page, target));
    assert.ok(Math.abs(beforeKey.x - 60 - afterKey.x) < 0.5 && Math.abs(beforeKey.y - afterKey.y) < 0.5, "ArrowRight moves the view 60 px right");
    await page.keyboard.press("ArrowUp");
    const afterUp = centreOf(await nodeBox(page, target));
    assert.ok(Math.abs(afterKey.y + 60 - afterUp.y) < 0.5, "ArrowUp moves the view 60 px up");

    // Drag on the background pans by the distance dragged.
    const { canvas } = await geometry(page);
    const start = { x: canvas.x + 20, y: canvas.y + canvas.height - 20 };
    const beforeDrag = centreOf(await nodeBox(page, target));
    await page.mouse.move(start.x, start.y);
    await page.mouse.down();
    await page.mouse.move(start.x + 50, start.y - 40, { steps: 5 });
    await page.mouse.move(start.x + 100, start.y - 80, { steps: 5 });
    await page.mouse.up();
    const afterDrag = centreOf(await nodeBox(page, target));
    assert.ok(Math.abs(afterDrag.x - beforeDrag.x - 100) < 0.5 && Math.abs(afterDrag.y - beforeDrag.y + 80) < 0.5, `dragged ${JSON.stringify(beforeDrag)} -> ${JSON.stringify(afterDrag)}`);
    await shot(page, "buildkit-panned");

    // The minimap moves the view to where it is clicked: its centre shows the drawing's centre.
    const minimap = await page.$eval('[data-testid="graph-minimap"]', (element) => {
      const box = element.getBoundingClientRect();
      return { x: box.x, y: box.y, width: box.width, height: box.height };
    });
    await page.mouse.click(minimap.x + minimap.width / 2, minimap.y + minimap.height / 2);
    const layout = await page.evaluate(() => window.stageplan.playground.graphHandle().layout());
    const viewCentre = await page.evaluate(() => window.stageplan.playground.graphHandle().viewState().zoom);
    assert.ok(Math.abs(viewCentre.x - layout.width / 2) < 2 && Math.abs(viewCentre.y - layout.height / 2) < 2, JSON.stringify(viewCentre));

    // 0 and the Fit button show everything again.
    await page.focus('[data-testid="graph-canvas"]');
    await page.keyboard.press("0");
    assertAllInside(await geometry(page), "after 0");
    await page.click('[data-testid="graph-zoom-in"]');
    await page.click('[data-testid="graph-fit"]');
    assertAllInside(await geometry(page), "after Fit");
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("a click lights a stage's ancestors and descendants and dims the rest; an edge names its kind and line", async () => {
    const { page, context, errors } = await openWith(BUILDKIT, 49);
    const plan = await planJson(page);
    const clicked = plan.stages.find((stage) => stage.name === "buildkit-export");
    const dependents = new Map(plan.stages.map((stage) => [stage.index, []]));
    for (const stage of plan.stages) for (const dep of stage.depends_on) dependents.get(dep).push(stage.index);
    const walk = (start, next) => {
      const seen = new Set();
      const stack = [...next(start)];
      while (stack.length) {
        const idx = stack.pop();
        if (!seen.has(idx)) {
          seen.add(idx);
          stack.push(...next(idx));
        }
      }
      return seen;
    };
    const expected = new Set([clicked.index, ...walk(clicked.index, (idx) => plan.stages[idx].depends_on), ...walk(clicked.index, (idx) => dependents.get(idx))]);
    await page.click('#graph [data-stage-name="buildkit-export"]');
    await page.waitForSelector("#graph svg.sp-has-selection");
    const lit = await page.$$eval("#graph [data-stage-index].sp-lineage", (nodes) => nodes.map((node) => Number(node.dataset.stageIndex)));
    assert.deepEqual(lit.sort((a, b) => a - b), [...expected].sort((a, b) => a - b));
    const dimmed = await page.$eval('#graph [data-stage-index]:not(.sp-lineage)', (node) => Number(getComputedStyle(node).opacity));
    assert.ok(dimmed < 0.5, `the rest is dimmed (opacity ${dimmed})`);
    // The editor shows the stage's FROM line.
    assert.match(await page.textContent(".cm-activeLine"), /AS buildkit-export/);
    await shot(page, "buildkit-lineage");

    // Hover the middle of a COPY --from edge: the tooltip names its kind and line.
    const point = await page.$eval('#graph .sp-edge-group[data-edge-kind="copy"] .sp-edge', (path) => {
      const length = path.getTotalLength();
      const mid = path.getPointAtLength(length / 2);
      const matrix = path.getScreenCTM();
      return { x: mid.x * matrix.a + mid.y * matrix.c + matrix.e, y: mid.x * matrix.b + mid.y * matrix.d + matrix.f, description: path.parentElement.dataset.description };
    });
    await page.mouse.move(point.x, point.y);
    await page.waitForSelector('[data-testid="graph-tooltip"]:not([hidden])');
    const tooltip = await page.textContent('[data-testid="graph-tooltip"]');
    assert.match(tooltip, /^COPY --from · lines? \d+/);
    assert.equal(await page.$eval("#graph .sp-edge-group.sp-hover", (group) => group.dataset.description), tooltip, "the hovered edge is marked");
    const line = Number(/\d+/.exec(tooltip)[0]);
    assert.match(BUILDKIT.split("\n")[line - 1], /--from=/, `line ${line} of the file has the COPY --from`);
    await shot(page, "buildkit-edge-tooltip");
    // A click on the background clears the selection.
    const { canvas } = await geometry(page);
    await page.mouse.click(canvas.x + 5, canvas.y + canvas.height - 5);
    await page.waitForSelector("#graph svg:not(.sp-has-selection)");
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("the share link restores targets, focus and zoom", async () => {
    const first = await openWith(BUILDKIT, 49);
    await first.page.selectOption('[data-testid="target-select"]', ["integration-tests"]);
    await first.page.waitForFunction(() => document.querySelector('#graph [data-stage-name="integration-tests"]')?.dataset.target === "true");
    await first.page.click('[data-testid="graph-focus"]');
    await first.page.focus('[data-testid="graph-canvas"]');
    await first.page.keyboard.press("+");
    await first.page.keyboard.press("+");
    await first.page.keyboard.press("ArrowDown");
    const shared = await geometry(first.page);
    const place = centreOf(await nodeBox(first.page, '[data-stage-name="integration-tests"]'));
    await first.page.click('[data-testid="share"]');
    await first.page.waitForFunction(() => location.hash.startsWith("#s="));
    const url = first.page.url();
    await shot(first.page, "buildkit-shared");
    await first.context.close();

    const second = await openPlayground(browser, url);
    await second.page.waitForSelector('#graph [data-stage-name="integration-tests"][data-target="true"]');
    assert.equal(await second.page.getAttribute('[data-testid="graph-focus"]', "aria-pressed"), "true");
    assert.ok(await second.page.$("#graph [data-fold]"), "skipped stages folded");
    const restored = await geometry(second.page);
    assert.ok(Math.abs(restored.scale - shared.scale) < 0.01, `scale ${shared.scale} -> ${restored.scale}`);
    const again = centreOf(await nodeBox(second.page, '[data-stage-name="integration-tests"]'));
    assert.ok(Math.abs(again.x - place.x) < 2 && Math.abs(again.y - place.y) < 2, `${JSON.stringify(place)} -> ${JSON.stringify(again)}`);
    await shot(second.page, "buildkit-restored");
    assert.deepEqual(second.errors, []);
    await second.context.close();
  });

  test("typing keeps the picture: a new line in a stage moves no box on screen", async () => {
    const { page, context } = await openWith(BUILDKIT, 49);
    await page.focus('[data-testid="graph-canvas"]');
    await page.keyboard.press("+");
    const before = await geometry(page);
    // Type a new instruction at the end of the file, as a user would, key by key.
    await page.click(".cm-content");
    await page.keyboard.press("ControlOrMeta+End");
    await page.keyboard.type("RUN echo typed\n");
    await page.waitForFunction(() => window.stageplan.playground.editor.state.doc.toString().includes("RUN echo typed"));
    await page.waitForFunction(() => window.stageplan.playground.current.outcome?.plan?.stages.at(-1).instructions.some((op) => op.text.includes("echo typed")));
    const after = await geometry(page);
    const was = new Map(before.nodes.map((node) => [node.id, node]));
    for (const node of after.nodes) {
      const old = was.get(node.id);
      assert.ok(old && Math.abs(old.x - node.x) < 0.5 && Math.abs(old.y - node.y) < 0.5, `${node.id} stayed`);
    }
    await context.close();
  });
});

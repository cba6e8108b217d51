// The playground draws a build record over the graph of the Dockerfile in the editor, in
// headless Chromium: the record is opened with the file picker and dropped on the graph, stays
// on the right stages while lines are added above them, and a file that is not a record is
// refused with a message.
//
// Input: web/dist (built) served on 127.0.0.1, /usr/bin/chromium, the record the runner wrote for
// the seed's multi-stage Dockerfile after app.go changed
// (tests/fixtures/records/seed-app-go-changed.record.json; the runner's tests check it still
// reads as record JSON v1). Output: test results and a screenshot in tests/artifacts/.
// Invariant: every assertion reads what the page shows.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { artifactsDir, distDir, launchBrowser, openPlayground, rootDir, serveStatic } from "./harness.mjs";

const recordFile = join(rootDir, "tests", "fixtures", "records", "seed-app-go-changed.record.json");

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

/** The overlay marks of every stage box: name -> { badge, critical, detail }. */
function marks(page) {
  return page.$$eval("#graph .sp-node.sp-stage", (nodes) =>
    Object.fromEntries(
      nodes.map((node) => [
        node.dataset.stageName || `#${node.dataset.stageIndex}`,
        {
          badge: node.querySelector(".sp-ov-badge")?.textContent ?? null,
          critical: node.classList.contains("sp-critical"),
          detail: node.querySelector(".sp-detail")?.textContent ?? "",
        },
      ]),
    ),
  );
}

async function openSeed(colorScheme = "light") {
  const opened = await openPlayground(browser, server.url, { colorScheme });
  await opened.page.selectOption('[data-testid="examples"]', "seed");
  await opened.page.waitForFunction(() => document.querySelector("#graph [data-stage-name=builder]") !== null);
  return opened;
}

describe("a build record on the playground's graph", () => {
  test("opens with the file picker and stays on its stages while the file is edited", async () => {
    const { context, page, errors } = await openSeed();
    await page.setInputFiles('[data-testid="record-file"]', recordFile);
    await page.waitForSelector('[data-testid="record-bar"]:not([hidden])');
    const summary = await page.textContent('[data-testid="record-summary"]');
    assert.match(summary, /seed-app-go-changed\.record\.json: built in/);
    assert.match(summary, /3 of 5 steps ran/);
    assert.match(summary, /critical path builder #2 → builder #3 → stage-1 #2/);
    assert.match(summary, /2 stages matched/);
    let shown = await marks(page);
    assert.equal(shown.builder.badge, "2 ran · 1 cached");
    assert.equal(shown.builder.critical, true);
    assert.equal(shown["#1"].badge, "1 ran · 1 cached");
    assert.match(shown.builder.detail, / · 462 MB$/);
    // Three lines above the first stage: the marks stay on the same stages.
    await page.click(".cm-content");
    await page.keyboard.press("ControlOrMeta+Home");
    await page.keyboard.insertText("# one\n# two\n# three\n");
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.textContent?.includes("planned"));
    shown = await marks(page);
    assert.equal(shown.builder.badge, "2 ran · 1 cached");
    assert.equal(shown.builder.critical, true);
    await page.screenshot({ path: join(artifactsDir, "playground-record-light.png") });
    // Cleared: no mark is left.
    await page.click('[data-testid="clear-record"]');
    shown = await marks(page);
    assert.deepEqual(Object.values(shown).map((mark) => mark.badge), [null, null]);
    assert.ok(await page.isHidden('[data-testid="record-bar"]'));
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("opens when dropped on the graph, and a file that is not a record is refused", async () => {
    const { context, page, errors } = await openSeed("dark");
    const text = readFileSync(recordFile, "utf8");
    const drop = (name, content) =>
      page.evaluate(
        ([fileName, fileText]) => {
          const transfer = new DataTransfer();
          transfer.items.add(new File([fileText], fileName, { type: "application/json" }));
          const target = document.querySelector("#graph");
          target.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
          target.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
        },
        [name, content],
      );
    await drop("plan.json", JSON.stringify({ version: 1, targets: [], stages: [] }));
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.textContent?.includes("not a build record"));
    assert.ok(await page.isHidden('[data-testid="record-bar"]'));
    await drop("build.record.json", text);
    await page.waitForSelector('[data-testid="record-bar"]:not([hidden])');
    const shown = await marks(page);
    assert.equal(shown.builder.badge, "2 ran · 1 cached");
    await page.screenshot({ path: join(artifactsDir, "playground-record-dark.png") });
    assert.deepEqual(errors, []);
    await context.close();
  });
});

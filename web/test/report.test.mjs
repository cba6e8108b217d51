// The build report in headless Chromium, made by the real runner on the real engine: a
// three-stage build is built, one file changes, it is built again with `--report`, and the page
// is opened from file:// as a user would open it.
//
// Input: the runner (cargo builds it: `cargo build -p runner`), the local engine with
// stageplan-test/busybox:1 (scripts/setup.sh), /usr/bin/chromium. Output: test results and
// screenshots of the page in both themes in tests/artifacts/ (report-light.png, report-dark.png).
// Invariant: every assertion reads what the page shows; every cache tag and record image the two
// builds made is removed afterwards.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { artifactsDir, launchBrowser, rootDir } from "./harness.mjs";

const BASE = "stageplan-test/busybox:1";
const runnerBin = join(rootDir, "target", "debug", "runner");

let browser;
let work;
let report;
const made = new Set();

/** Runs the runner on `dir` with JSON progress; remembers the images and records it made. */
function runnerBuild(dir, extra) {
  const out = spawnSync(runnerBin, ["build", dir, "--progress", "json", ...extra], { encoding: "utf8" });
  assert.equal(out.status, 0, `runner build failed:\n${out.stderr}`);
  for (const line of out.stdout.split("\n").filter(Boolean)) {
    const event = JSON.parse(line);
    if (event.event === "stage_done") {
      if (event.image) made.add(event.image);
      if (event.record) made.add(event.record);
    }
  }
  return out;
}

/** Removes the step-cache tags and record images of what the builds made (walking parents). */
function forget() {
  const seen = new Set();
  for (let image of made) {
    while (image && !seen.has(image)) {
      seen.add(image);
      const inspect = spawnSync("docker", ["image", "inspect", image, "--format", "{{json .RepoTags}} {{.Parent}}"], { encoding: "utf8" });
      if (inspect.status !== 0) break;
      const [tags, parent] = inspect.stdout.trim().split(" ");
      for (const tag of JSON.parse(tags) ?? []) {
        if (tag.startsWith("stageplan-cache:") || tag.startsWith("stageplan-record:")) spawnSync("docker", ["rmi", tag]);
      }
      image = parent;
    }
  }
}

before(async () => {
  mkdirSync(artifactsDir, { recursive: true });
  // The runner of this checkout (a no-op when `cargo test` already built it).
  execFileSync("cargo", ["build", "--locked", "-p", "runner", "--quiet"], { cwd: rootDir, stdio: "inherit" });
  const nonce = `${process.pid}-${Date.now()}`;
  work = mkdtempSync(join(tmpdir(), "stageplan-report-"));
  const dir = join(work, `report-${nonce}`);
  mkdirSync(dir);
  writeFileSync(join(dir, "app.txt"), "app 1\n");
  writeFileSync(
    join(dir, "Dockerfile"),
    [
      `FROM ${BASE} AS deps`,
      `RUN echo deps-${nonce} > /deps`,
      `FROM ${BASE} AS build`,
      "COPY app.txt /src/app.txt",
      "RUN cat /src/app.txt > /out && sleep 6",
      "FROM scratch AS final",
      "COPY --from=deps /deps /deps",
      "COPY --from=build /out /out",
      "",
    ].join("\n"),
  );
  runnerBuild(dir, []);
  writeFileSync(join(dir, "app.txt"), "app 2\n");
  report = join(work, "build.html");
  runnerBuild(dir, ["--report", report]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  forget();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Opens the report from file:// in `colorScheme`, collecting console errors. */
async function openReport(colorScheme) {
  const context = await browser.newContext({ colorScheme, viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  const errors = [];
  const requests = [];
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  page.on("request", (request) => {
    if (!request.url().startsWith("file:") && !request.url().startsWith("blob:") && !request.url().startsWith("data:")) requests.push(request.url());
  });
  await page.goto(`file://${report}`);
  await page.waitForSelector("[data-testid=report-graph] .sp-node.sp-stage");
  return { context, page, errors, requests };
}

describe("the build report page", () => {
  test("shows which step missed and why, the critical path and the sizes, with no console error", async () => {
    const { context, page, errors, requests } = await openReport("light");
    assert.match(await page.textContent("[data-testid=report-status]"), /built/);
    // The critical path: the changed stage's steps, then the final stage's copy of its output.
    const path = await page.$$eval("[data-testid=report-critical-step]", (items) => items.map((item) => item.textContent));
    assert.ok(path.some((item) => item.includes("build #1") && item.includes("COPY app.txt /src/app.txt") && item.includes("app.txt changed")), path.join("\n"));
    assert.ok(path.some((item) => item.includes("build #2") && item.includes("app.txt changed")), path.join("\n"));
    assert.ok(path.at(-1).startsWith("final #2"), path.join("\n"));
    assert.ok(!path.some((item) => item.startsWith("deps")), path.join("\n"));
    // On the graph: the critical stages ringed and their edge drawn as critical, the cached stage not.
    const stages = await page.$$eval("[data-testid=report-graph] .sp-node.sp-stage", (nodes) =>
      Object.fromEntries(
        nodes.map((node) => [
          node.dataset.stageName,
          {
            critical: node.classList.contains("sp-critical"),
            badge: node.querySelector(".sp-ov-badge")?.textContent ?? "",
            detail: node.querySelector(".sp-detail")?.textContent ?? "",
          },
        ]),
      ),
    );
    assert.equal(stages.build.critical, true, JSON.stringify(stages));
    assert.equal(stages.final.critical, true, JSON.stringify(stages));
    assert.equal(stages.deps.critical, false, JSON.stringify(stages));
    assert.equal(stages.deps.badge, "all cached");
    assert.equal(stages.build.badge, "2 ran");
    assert.match(stages.build.detail, /\d.* · \d+(\.\d)? [kMG]?B$/);
    const criticalEdges = await page.$$eval("[data-testid=report-graph] .sp-edge-group.sp-critical", (edges) => edges.map((edge) => `${edge.dataset.from}>${edge.dataset.to}`));
    assert.deepEqual(criticalEdges, ["stage-1>stage-2"]);
    // The slowest step is the RUN that sleeps six seconds, with why it ran.
    const slowest = await page.$$eval("[data-testid=report-slowest-row]", (rows) => rows.map((row) => row.textContent));
    assert.match(slowest[0], /build.*#2.*RUN cat \/src\/app.txt.*ran.*app.txt changed/);
    assert.match(await page.textContent("[data-testid=report-stages]"), /final/);
    await page.screenshot({ path: join(artifactsDir, "report-light.png"), fullPage: true });
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, [], "the page loads nothing from the network");
    await context.close();
  });

  test("is readable in the dark theme", async () => {
    const { context, page, errors } = await openReport("dark");
    const colours = await page.evaluate(() => {
      const body = getComputedStyle(document.body);
      const rect = document.querySelector("[data-testid=report-graph] .sp-node.sp-stage.sp-critical rect.sp-ov-ring");
      return { background: body.backgroundColor, text: body.color, ring: rect ? getComputedStyle(rect).stroke : "" };
    });
    assert.equal(colours.background, "rgb(21, 23, 28)");
    assert.equal(colours.text, "rgb(227, 231, 239)");
    assert.equal(colours.ring, "rgb(177, 151, 252)");
    await page.screenshot({ path: join(artifactsDir, "report-dark.png"), fullPage: true });
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("embeds the record it draws", async () => {
    const html = readFileSync(report, "utf8");
    const json = html.match(/<script id="stageplan-record" type="application\/json">([\s\S]*?)<\/script>/)[1];
    const record = JSON.parse(json);
    assert.equal(record.version, 1);
    assert.equal(record.ok, true);
    assert.deepEqual(
      record.critical_path.map((step) => `${step.stage}:${step.step}`).slice(-3),
      ["1:1", "1:2", "2:2"],
    );
  });
});

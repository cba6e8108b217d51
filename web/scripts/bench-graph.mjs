// Measures the stage graph on the real large Dockerfiles in headless Chromium: the time to lay
// out and draw a plan (until the browser has done style and layout, and until the next frame),
// the planning time, and how long keystrokes take to handle while typing into such a file.
//
// Input: web/dist (built), /usr/bin/chromium, tests/fixtures/dockerfiles/large/. Output: a table
// on stdout with the load average, and tests/artifacts/graph-bench.json.
// Invariant: a measurement, not a test: it never fails on a slow machine.
//
// Usage: node scripts/bench-graph.mjs [--runs N]
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";

import { artifactsDir, distDir, launchBrowser, openPlayground, rootDir, serveStatic } from "../test/harness.mjs";

const runsArg = process.argv.indexOf("--runs");
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 40;
const largeDir = join(rootDir, "tests", "fixtures", "dockerfiles", "large");
const planner = createRequire(join(rootDir, "package.json"))("./web/pkg/node");
/** Build args the fixtures need (neon's compute image asks for its PostgreSQL version with
 * `${PG_VERSION:?}`, as in BuildKit); the other files ignore them. */
const BUILD_ARGS = { PG_VERSION: "v17" };

/** Pastes `text` into the editor as the clipboard would, and waits for its graph. */
async function paste(page, text) {
  const stages = planner.plan(text, { build_args: BUILD_ARGS }).plan.stages.length;
  await page.fill('[data-testid="build-args"]', Object.entries(BUILD_ARGS).map(([name, value]) => `${name}=${value}`).join("\n"));
  await page.click(".cm-content");
  await page.keyboard.press("ControlOrMeta+a");
  await page.evaluate((pasted) => {
    const data = new DataTransfer();
    data.setData("text/plain", pasted);
    document.querySelector(".cm-content").dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  }, text);
  await page.waitForFunction((n) => document.querySelectorAll("#graph [data-stage-index]").length === n, stages);
}

/** Layout + drawing and planning times in the page (median and p95 over `runs`). */
function measureInPage({ runs, only, buildArgs }) {
  return new Promise((resolve) => {
    const playground = window.stageplan.playground;
    const graph = playground.graphHandle();
    const plan = playground.current.shown;
    const text = playground.editor.state.doc.toString();
    const stats = (values) => {
      const sorted = [...values].sort((a, b) => a - b);
      return { median: sorted[Math.floor(sorted.length / 2)], p95: sorted[Math.floor(sorted.length * 0.95)] };
    };
    const planTimes = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      window.stageplan.planner.plan(text, { build_args: buildArgs });
      planTimes.push(performance.now() - t0);
    }
    // The time until style and layout are done, and until the next frame. A re-plan whose graph
    // did not change (typing inside stages) keeps the drawing; one that did lays out near the last
    // layout and redraws (here: every stage's name changes); a view change lays out afresh (here:
    // image boxes on and off, every stage drawn).
    let renamed = 0;
    const allActions = [
      ["replanSameGraph", () => graph.update({ ...plan })],
      ["replanNewGraph", () => {
        renamed++;
        graph.update({ ...plan, stages: plan.stages.map((stage) => ({ ...stage, name: stage.name ? `${stage.name}-${renamed % 2}` : null })) });
      }],
      ["fresh", () => graph.setViewState({ images: !graph.viewState().images })],
    ];
    const actions = allActions.filter(([name]) => only === undefined || name === only);
    const results = {};
    let actionIdx = 0;
    let i = 0;
    let syncTimes = [];
    let frameTimes = [];
    const step = () => {
      const [name, action] = actions[actionIdx];
      const t0 = performance.now();
      action();
      document.querySelector("#graph svg.sp-graph").getBoundingClientRect();
      syncTimes.push(performance.now() - t0);
      requestAnimationFrame(() =>
        setTimeout(() => {
          frameTimes.push(performance.now() - t0);
          if (++i < runs) return step();
          results[name] = { sync: stats(syncTimes), frame: stats(frameTimes) };
          [i, syncTimes, frameTimes] = [0, [], []];
          if (++actionIdx < actions.length) return step();
          resolve({ plan: stats(planTimes), ...results, nodes: graph.layout().nodes.length });
        }, 0),
      );
    };
    step();
  });
}

/** Types `count` characters at the end of the file, 150 ms apart (longer than the re-plan delay,
 * so every key starts a re-plan while the next keys arrive), and reports how long keys waited for
 * the main thread (from the key event's time stamp to its handler, and to the next frame) and the
 * long tasks meanwhile. */
async function typingLatency(page, count) {
  await page.evaluate(() => {
    // A page typed into twice counts each time afresh (the observers are installed once).
    const installed = window.__keys !== undefined;
    window.__keys = [];
    window.__longTasks = [];
    window.__replans = 0;
    if (installed) return;
    window.addEventListener(
      "keydown",
      (event) => {
        const entry = { wait: performance.now() - event.timeStamp, frame: 0 };
        window.__keys.push(entry);
        requestAnimationFrame(() => (entry.frame = performance.now() - event.timeStamp));
      },
      true,
    );
    new PerformanceObserver((list) => window.__longTasks.push(...list.getEntries().map((entry) => entry.duration))).observe({ type: "longtask", buffered: false });
    const status = document.querySelector('[data-testid="status"]');
    new MutationObserver(() => window.__replans++).observe(status, { childList: true, characterData: true, subtree: true });
  });
  await page.click(".cm-content");
  await page.keyboard.press("ControlOrMeta+End");
  await page.keyboard.type("RUN echo typing into a large file".slice(0, count), { delay: 150 });
  await page.waitForTimeout(800);
  return page.evaluate(() => ({
    keys: window.__keys.length,
    replans: window.__replans,
    slowestKeyWait: window.__keys.reduce((most, entry) => Math.max(most, entry.wait), 0),
    slowestKeyToFrame: window.__keys.reduce((most, entry) => Math.max(most, entry.frame), 0),
    medianKeyToFrame: window.__keys.map((entry) => entry.frame).sort((a, b) => a - b)[Math.floor(window.__keys.length / 2)],
    longTasks: window.__longTasks.length,
    longestTask: window.__longTasks.reduce((most, value) => Math.max(most, value), 0),
  }));
}

async function main() {
  const server = await serveStatic(distDir);
  const browser = await launchBrowser();
  const report = { load_average: loadavg().map((n) => Number(n.toFixed(2))), runs, fixtures: {} };
  try {
    const largeFiles = readdirSync(largeDir)
      .filter((name) => name.endsWith(".Dockerfile") && planner.plan(readFileSync(join(largeDir, name), "utf8"), { build_args: BUILD_ARGS }).plan)
      .sort();
    for (const file of largeFiles) {
      const { page, context } = await openPlayground(browser, server.url);
      if (file === largeFiles[0]) report.small_file_typing = await typingLatency(page, 30);
      await paste(page, readFileSync(join(largeDir, file), "utf8"));
      // CPU time of the page's main thread per action (Chromium's ThreadTime metric), which a busy
      // machine inflates far less than the wall-clock times.
      const cdp = await context.newCDPSession(page);
      await cdp.send("Performance.enable");
      const threadTime = async () => (await cdp.send("Performance.getMetrics")).metrics.find((metric) => metric.name === "ThreadTime").value * 1000;
      const timing = {};
      for (const only of ["replanSameGraph", "replanNewGraph", "fresh"]) {
        const before = await threadTime();
        const result = await page.evaluate(measureInPage, { runs, only, buildArgs: BUILD_ARGS });
        const cpu = ((await threadTime()) - before) / runs;
        Object.assign(timing, result, { [only]: { ...result[only], cpu } });
      }
      const typing = await typingLatency(page, 30);
      report.fixtures[file] = { ...timing, typing };
      await context.close();
    }
  } finally {
    await browser.close();
    await server.close();
  }
  report.load_average_after = loadavg().map((n) => Number(n.toFixed(2)));
  mkdirSync(artifactsDir, { recursive: true });
  writeFileSync(join(artifactsDir, "graph-bench.json"), JSON.stringify(report, null, 2) + "\n");
  const ms = (n) => `${n.toFixed(1)} ms`;
  console.log(`load average ${report.load_average.join(" ")} (after: ${report.load_average_after.join(" ")}); ${runs} runs each`);
  const typed = (t) => `${t.keys} keys, ${t.replans} re-plans: key wait max ${ms(t.slowestKeyWait)}, key to frame median ${ms(t.medianKeyToFrame)} / max ${ms(t.slowestKeyToFrame)}, ${t.longTasks} long tasks (longest ${ms(t.longestTask)})`;
  console.log(`typing into the seed example (2 stages): ${typed(report.small_file_typing)}`);
  console.log("fixture | nodes | re-plan, same graph | re-plan, changed graph (kept layout) | view change (fresh layout) | plan median (page)");
  console.log("        (each: layout+draw median / p95, to the next frame median, main-thread CPU per redraw)");
  for (const [file, r] of Object.entries(report.fixtures)) {
    const cell = (x) => `${ms(x.sync.median)} / ${ms(x.sync.p95)}, ${ms(x.frame.median)}, CPU ${ms(x.cpu)}`;
    console.log(
      `${file} | ${r.nodes} | ${cell(r.replanSameGraph)} | ${cell(r.replanNewGraph)} | ${cell(r.fresh)} | ${ms(r.plan.median)}`,
    );
  }
  for (const [file, r] of Object.entries(report.fixtures)) console.log(`typing into ${file}: ${typed(r.typing)}`);
}

main().catch((err) => {
  console.error(`bench failed: ${err.message}`);
  process.exit(1);
});

// Layout quality and speed of the stage graph on the real large Dockerfiles: edge crossings,
// drawing size and layout time (in Node: wall-clock median and CPU time per layout, which a
// busy machine inflates less), per fixture and view.
//
// Input: tests/fixtures/dockerfiles/large/*.Dockerfile, web/pkg/node, web/src/graph (through
// Vite's SSR loader). Output: a table on stdout, with the load average.
// Invariant: measures only; asserts nothing (the tests assert the behaviour, not the figures).
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "vite";

const webDir = resolve(fileURLToPath(new URL("..", import.meta.url)));
const largeDir = join(webDir, "..", "tests", "fixtures", "dockerfiles", "large");
const planner = createRequire(import.meta.url)("../pkg/node");
const runs = Number(process.env.RUNS ?? 30);

const vite = await createServer({ root: webDir, logLevel: "silent", appType: "custom", server: { middlewareMode: true, hmr: false } });
try {
  const graph = await vite.ssrLoadModule("/src/graph/index.ts");
  console.log(`load average ${loadavg().map((n) => n.toFixed(2)).join(" ")}; ${runs} runs each`);
  console.log("fixture | view | nodes | edges | crossings | size | layout median ms (wall) | layout mean CPU ms");
  for (const file of readdirSync(largeDir).filter((name) => name.endsWith(".Dockerfile")).sort()) {
    // Neon's compute image needs its PostgreSQL version (`${PG_VERSION:?}`); other files ignore it.
    const plan = planner.plan(readFileSync(join(largeDir, file), "utf8"), { build_args: { PG_VERSION: "v17" } }).plan;
    if (!plan) {
      console.log(`${file} | does not plan with PG_VERSION=v17; skipped`);
      continue;
    }
    for (const [label, view] of graph.MEASURED_VIEWS) {
      const model = graph.buildModel(plan, view);
      let layout = graph.layoutGraph(model);
      const times = [];
      const cpuBefore = process.cpuUsage();
      for (let i = 0; i < runs; i++) {
        const started = performance.now();
        layout = graph.layoutGraph(model);
        times.push(performance.now() - started);
      }
      const cpu = process.cpuUsage(cpuBefore);
      const cpuMs = (cpu.user + cpu.system) / 1000 / runs;
      times.sort((a, b) => a - b);
      const crossings = graph.countCrossings(layout);
      console.log(`${file} | ${label} | ${model.nodes.length} | ${model.edges.length} | ${crossings} | ${layout.width}x${layout.height} | ${times[Math.floor(times.length / 2)].toFixed(1)} | ${cpuMs.toFixed(1)}`);
    }
  }
} finally {
  await vite.close();
}

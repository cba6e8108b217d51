// Measures the playground's numbers: the .wasm size (raw and gzip) and the time to re-plan a
// 1,000-line Dockerfile in headless Chromium (performance.now around the WebAssembly call).
//
// Input: web/dist and web/pkg/web (built), /usr/bin/chromium. Output: a table on stdout and
// tests/artifacts/web-bench.json.
// Invariant: a measurement, not a test: it never fails on a slow machine.
//
// Usage: node scripts/bench.mjs [--runs N]
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

import { artifactsDir, distDir, launchBrowser, openPlayground, serveStatic, webDir } from "../test/harness.mjs";

/** A realistic 1,000-line Dockerfile: stages of 20 lines with FROM/COPY --from/mount edges. */
export function bigDockerfile(lines = 1000) {
  const out = ["# syntax=docker/dockerfile:1", "ARG BASE=alpine:3.20", "ARG VERSION=1.0.0"];
  for (let stage = 0; out.length < lines; stage++) {
    const from = stage === 0 ? "${BASE}" : stage % 5 === 0 ? "alpine:3.20" : `s${stage - 1}`;
    const block = [
      `FROM ${from} AS s${stage}`,
      "ARG VERSION",
      `ENV APP_HOME=/opt/app${stage} PATH=/opt/app${stage}/bin:$PATH`,
      "WORKDIR $APP_HOME",
      `LABEL org.opencontainers.image.version="\${VERSION}" stage="s${stage}"`,
      stage > 1 ? `COPY --from=s${stage - 2} /opt/app${stage - 2}/out ./deps/` : "COPY deps/ ./deps/",
      stage > 2 ? `RUN --mount=type=bind,from=s${stage - 3},source=/opt,target=/mnt ls /mnt` : "RUN ls /",
      "COPY --chown=1000:1000 src/ ./src/",
    ];
    for (let step = 0; block.length < 16; step++) {
      block.push(`RUN echo "step ${step}" && \\`, `    mkdir -p out/${step} && touch out/${step}/done`);
    }
    block.push("USER 1000", `EXPOSE ${8000 + stage}`, `CMD ["./bin/app${stage}", "--serve"]`, "");
    out.push(...block);
  }
  return out.slice(0, lines).join("\n") + "\n";
}

async function main() {
  const runsArg = process.argv.indexOf("--runs");
  const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 300;
  const wasm = readFileSync(join(webDir, "pkg", "web", "planner_bg.wasm"));
  const gzip = gzipSync(wasm, { level: 9 }).length;
  const text = bigDockerfile();
  const server = await serveStatic(distDir);
  const browser = await launchBrowser();
  try {
    const { page } = await openPlayground(browser, server.url);
    const result = await page.evaluate(
      ({ text, runs }) => {
        const planner = window.stageplan.planner;
        const options = { targets: ["s40", "s45"], build_args: { VERSION: "2.0.0" } };
        const first = planner.plan(text, options);
        for (let i = 0; i < 30; i++) planner.plan(text, options);
        const times = [];
        const batchStart = performance.now();
        for (let i = 0; i < runs; i++) {
          const t0 = performance.now();
          planner.plan(text, options);
          times.push(performance.now() - t0);
        }
        const batch = (performance.now() - batchStart) / runs;
        times.sort((a, b) => a - b);
        // The same planning without building JavaScript objects: graph() plans and renders text.
        const textTimes = [];
        for (let i = 0; i < runs; i++) {
          const t0 = performance.now();
          planner.graph(text, options, "dot");
          textTimes.push(performance.now() - t0);
        }
        textTimes.sort((a, b) => a - b);
        return {
          stages: first.plan ? first.plan.stages.length : 0,
          errors: first.diagnostics.filter((d) => d.severity === "error").length,
          median: times[Math.floor(runs / 2)],
          p95: times[Math.floor(runs * 0.95)],
          mean: batch,
          textMedian: textTimes[Math.floor(runs / 2)],
          userAgent: navigator.userAgent,
        };
      },
      { text, runs },
    );
    const report = {
      wasm_bytes: wasm.length,
      wasm_gzip_bytes: gzip,
      dockerfile_lines: text.split("\n").length - 1,
      stages: result.stages,
      errors: result.errors,
      runs,
      replan_ms_median: Number(result.median.toFixed(3)),
      replan_ms_p95: Number(result.p95.toFixed(3)),
      replan_ms_mean: Number(result.mean.toFixed(3)),
      plan_and_render_dot_ms_median: Number(result.textMedian.toFixed(3)),
      browser: result.userAgent,
    };
    mkdirSync(artifactsDir, { recursive: true });
    writeFileSync(join(artifactsDir, "web-bench.json"), JSON.stringify(report, null, 2) + "\n");
    console.log(`planner_bg.wasm        ${wasm.length} bytes, ${gzip} bytes gzip (${(gzip / 1024).toFixed(1)} KiB)`);
    console.log(`re-plan ${report.dockerfile_lines} lines (${report.stages} stages, ${report.errors} errors), ${runs} runs:`);
    console.log(`  median ${report.replan_ms_median} ms, p95 ${report.replan_ms_p95} ms, mean ${report.replan_ms_mean} ms`);
    console.log(`  graph(dot) (planning without JS objects): median ${report.plan_and_render_dot_ms_median} ms`);
  } finally {
    await browser.close();
    await server.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`bench failed: ${err.message}`);
    process.exit(1);
  });
}

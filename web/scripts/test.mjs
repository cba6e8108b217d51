// `npm test` in web/: every test of the WASM package and the playground, in order.
//
// Input: the built packages and site (`npm run build` first). Output: each step's output; exit 1
// when any step fails (the later steps still run, so one run shows every failure).
// Invariant: nothing here downloads; the browser steps use Debian's chromium/chromedriver.
//
// Steps: generated types match planner/schema and runner/schema; the report page bundle the
// runner embeds matches its sources; TypeScript typecheck; wasm-bindgen-test on the exports in
// Node and in headless Chromium; node:test files (nodejs package, parity, end-to-end, the build
// report made by the real runner, build records on the playground).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const rootDir = resolve(webDir, "..");
const bin = (name) => join(webDir, "node_modules", ".bin", name);

const wasmTest = ["test", "-p", "wasm-test", "--lib", "--target", "wasm32-unknown-unknown", "--locked"];
const steps = [
  { name: "generated types match planner/schema and runner/schema", cmd: "node", args: ["scripts/gen-types.mjs", "--check"] },
  { name: "the runner's report page bundle matches web/src/report", cmd: "node", args: ["scripts/build-report.mjs", "--check"] },
  { name: "typecheck", cmd: bin("tsc"), args: ["--noEmit", "-p", "."] },
  {
    name: "wasm-bindgen-test (node)",
    cmd: "cargo",
    args: wasmTest,
    cwd: rootDir,
    env: { CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER: "wasm-bindgen-test-runner" },
  },
  {
    name: "wasm-bindgen-test (headless chromium)",
    cmd: "cargo",
    args: wasmTest,
    cwd: rootDir,
    env: {
      CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER: "wasm-bindgen-test-runner",
      WASM_BINDGEN_USE_BROWSER: "1",
      CHROMEDRIVER: process.env.CHROMEDRIVER ?? "/usr/bin/chromedriver",
    },
    needs: process.env.CHROMEDRIVER ?? "/usr/bin/chromedriver",
  },
  { name: "node tests (package, parity, end-to-end)", cmd: "node", args: ["--test", "--test-concurrency=1", "test/"] },
];

let failed = 0;
for (const step of steps) {
  if (step.needs && !existsSync(step.needs)) {
    console.error(`\n### ${step.name}: FAILED (${step.needs} is missing; run scripts/setup.sh)`);
    failed++;
    continue;
  }
  console.error(`\n### ${step.name}`);
  const run = spawnSync(step.cmd, step.args, { cwd: step.cwd ?? webDir, stdio: "inherit", env: { ...process.env, ...step.env } });
  if (run.status !== 0) {
    console.error(`### ${step.name}: FAILED (exit ${run.status ?? run.signal})`);
    failed++;
  }
}
console.error(failed ? `\n${failed} of ${steps.length} web test steps failed` : `\nall ${steps.length} web test steps passed`);
process.exit(failed ? 1 : 0);

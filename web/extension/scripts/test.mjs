// `npm test` in web/extension (also run by `npm --prefix web test`): every test of the VS Code extension.
//
// Input: the WASM packages in web/pkg (`npm --prefix web run build:wasm`), the npm packages of
// web/ and web/extension, /usr/bin/chromium. Output: each step's output; exit 1 when any step fails
// (the later steps still run, so one run shows every failure).
// Invariant: nothing here downloads, and no VS Code is started (the real-editor test in
// real-editor/ starts code-server: `npm run test:code-server`, or scripts/test-vscode.sh).
//
// Steps: esbuild bundles; type check against @types/vscode; node:test files (logic against the
// nodejs WASM package, activation against the `vscode` stand-in, the webview in Chromium, vsce package).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

import { extensionDir } from "./build.mjs";

const tsc = join(extensionDir, "..", "node_modules", ".bin", "tsc");
const steps = [
  { name: "extension: esbuild bundles", cmd: process.execPath, args: ["scripts/build.mjs"] },
  { name: "extension: type check against @types/vscode", cmd: tsc, args: ["--noEmit", "-p", "."], needs: tsc },
  {
    name: "extension: node tests (logic, activation, webview in Chromium, vsce package)",
    cmd: process.execPath,
    args: ["--test", "--test-concurrency=1", "test/"],
  },
];

let failed = 0;
for (const step of steps) {
  if (step.needs && !existsSync(step.needs)) {
    console.error(`\n### ${step.name}: FAILED (${step.needs} is missing; run scripts/setup.sh)`);
    failed++;
    continue;
  }
  console.error(`\n### ${step.name}`);
  const run = spawnSync(step.cmd, step.args, { cwd: extensionDir, stdio: "inherit" });
  if (run.status !== 0) {
    console.error(`### ${step.name}: FAILED (exit ${run.status ?? run.signal})`);
    failed++;
  }
}
console.error(failed ? `\n${failed} of ${steps.length} extension test steps failed` : `\nall ${steps.length} extension test steps passed`);
process.exit(failed ? 1 : 0);

// Parity: every planner fixture planned by the nodejs WebAssembly package and by the native
// `planner` binary gives the identical plan (and both refuse the same files).
//
// Input: Dockerfiles under tests/fixtures/ and planner/tests/fixtures/ (whatever exists),
// target/release/planner (built here with cargo when stale, or $STAGEPLAN_PLANNER_BIN), web/pkg/node.
// Output: one test per fixture.
// Invariant: compares whole plans as parsed JSON values, with the default target and with the
// first named stage as target, so any divergence of the two builds shows; the one field allowed
// to differ is `dockerfile`, the path the CLI records and the WASM planner is never given.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { before, describe, test } from "node:test";

import { rootDir } from "./harness.mjs";

const require = createRequire(join(rootDir, "package.json"));
const planner = require("./web/pkg/node");
// STAGEPLAN_PLANNER_BIN names a prebuilt native planner; otherwise cargo builds target/release/planner.
const prebuilt = process.env.STAGEPLAN_PLANNER_BIN;
const nativeBin = prebuilt ?? join(rootDir, "target", "release", "planner");

/** Every file named Dockerfile* below `dir` (sorted), or none when `dir` is missing. */
function findDockerfiles(dir) {
  if (!existsSync(dir)) return [];
  const found = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findDockerfiles(path));
    else if (/^Dockerfile/.test(entry) || /\.Dockerfile$/.test(entry)) found.push(path);
  }
  return found;
}

const fixtures = [join(rootDir, "tests", "fixtures"), join(rootDir, "planner", "tests", "fixtures")].flatMap(findDockerfiles);

/** Runs the native planner; returns { code, plan } (plan parsed when it succeeded). */
function nativePlan(file, target) {
  const args = ["plan", file, ...(target ? ["--target", target] : [])];
  const run = spawnSync(nativeBin, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (run.error) throw run.error;
  return { code: run.status, plan: run.status === 0 ? JSON.parse(run.stdout) : null, stderr: run.stderr };
}

describe("parity of the nodejs package with the native planner", () => {
  before(() => {
    if (prebuilt) return;
    execFileSync("cargo", ["build", "--release", "-p", "planner", "--bin", "planner", "--locked"], { cwd: rootDir, stdio: "inherit" });
  });

  test("there are fixtures to compare", () => {
    assert.ok(fixtures.length >= 10, `found ${fixtures.length} fixtures`);
  });

  for (const file of fixtures) {
    test(relative(rootDir, file), () => {
      const text = readFileSync(file, "utf8");
      const first = planner.plan(text, {});
      const named = first.plan?.stages.find((stage) => stage.name)?.name ?? null;
      for (const target of named ? [null, named] : [null]) {
        const wasm = planner.plan(text, target ? { targets: [target] } : {});
        const native = nativePlan(file, target);
        const label = `${relative(rootDir, file)} target=${target ?? "(default)"}`;
        if (native.code === 0) {
          // The CLI records the path it was given; the WASM planner is given text only.
          const { dockerfile, ...rest } = native.plan;
          assert.equal(dockerfile, file, `the native plan records the Dockerfile's path for ${label}`);
          assert.equal(wasm.plan?.dockerfile, undefined, `a plan of text only names no file for ${label}`);
          assert.deepEqual(wasm.plan, rest, `plans differ for ${label}`);
        } else {
          assert.equal(wasm.plan, null, `native refused ${label} (${native.stderr.trim().split("\n")[0]}) but wasm planned it`);
          assert.ok(wasm.diagnostics.some((diagnostic) => diagnostic.severity === "error"), label);
        }
      }
    });
  }
});

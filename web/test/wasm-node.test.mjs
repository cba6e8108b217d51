// Tests of the nodejs WebAssembly package (web/pkg/node) as a consumer sees it: loaded with
// require("web/pkg/node"), every export called, errors checked, and the .wasm size budget.
//
// Input: web/pkg/node and web/pkg/web (built by `npm --prefix web run build`).
// Output: test results.
// Invariant: the package is used only through its public exports.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";

import { rootDir, webDir } from "./harness.mjs";

const require = createRequire(join(rootDir, "package.json"));
const planner = require("./web/pkg/node");

const SEED = `FROM golang:1.23 AS builder
WORKDIR /src
RUN go build -o /bin/hello ./main.go

FROM scratch
COPY --from=builder /bin/hello /bin/hello
CMD ["/bin/hello"]
`;

/** The .wasm size limit from the issue: 150 KB gzip. */
const GZIP_LIMIT_BYTES = 150 * 1024;

describe("nodejs package", () => {
  test("version and plan format version", () => {
    const cargo = readFileSync(join(rootDir, "planner", "Cargo.toml"), "utf8");
    const workspace = readFileSync(join(rootDir, "Cargo.toml"), "utf8");
    const version = (cargo.match(/^version\s*=\s*"([^"]+)"/m) ?? workspace.match(/^version\s*=\s*"([^"]+)"/m))[1];
    assert.equal(planner.version(), version);
    assert.equal(planner.planVersion(), 1);
  });

  test("plan returns plain JSON objects: the default target and a chosen one", () => {
    const outcome = planner.plan(SEED, {});
    assert.equal(Object.getPrototypeOf(outcome), Object.prototype, "a plain object, not a Map");
    assert.deepEqual(Object.keys(outcome).sort(), ["diagnostics", "plan"]);
    const { plan } = outcome;
    assert.equal(plan.version, 1);
    assert.deepEqual(plan.targets, [1]);
    assert.deepEqual(plan.waves, [[0], [1]]);
    assert.deepEqual(plan.stages.map((stage) => [stage.name, stage.needed]), [["builder", true], [null, true]]);
    assert.deepEqual(plan.images, ["golang:1.23"]);
    assert.equal(plan.platform, "linux/amd64");

    const builderOnly = planner.plan(SEED, { targets: ["BUILDER"], build_args: { X: "1" }, platform: "linux/arm64" }).plan;
    assert.deepEqual(builderOnly.targets, [0]);
    assert.deepEqual(builderOnly.stages.map((stage) => stage.needed), [true, false]);
    assert.deepEqual(builderOnly.build_args, { X: "1" });
    assert.equal(builderOnly.platform, "linux/arm64");
  });

  test("outline gives the stages of a file with errors, and the plan's stages without", () => {
    const broken = SEED.replace("WORKDIR /src", "WORKDIR /src\nRUNN oops");
    assert.equal(planner.plan(broken, {}).plan, null);
    const outline = planner.outline(broken, {});
    assert.equal(Object.getPrototypeOf(outline), Object.prototype);
    assert.equal(outline.complete, false);
    assert.deepEqual(outline.stages.map((stage) => [stage.name, stage.needed]), [["builder", true], [null, true]]);
    assert.deepEqual(outline.waves, [[0], [1]]);
    assert.ok(outline.diagnostics.some((diagnostic) => diagnostic.severity === "error"));
    const whole = planner.outline(SEED, { targets: ["builder"] });
    const { plan } = planner.plan(SEED, { targets: ["builder"] });
    assert.equal(whole.complete, true);
    assert.deepEqual([whole.stages, whole.targets, whole.waves], [plan.stages, plan.targets, plan.waves]);
  });

  test("checkWith examines the stages the targets need; check examines every stage", () => {
    const text = "FROM alpine AS unused\nCMD run\nFROM alpine AS app\nCMD [\"app\"]\n";
    assert.deepEqual(planner.check(text).map((d) => d.code), ["JSONArgsRecommended"]);
    assert.deepEqual(planner.checkWith(text, { targets: ["app"] }), []);
    assert.deepEqual(planner.checkWith(text, null), planner.check(text));
  });

  test("the dockerignore option reaches CopyIgnoredFile in plan, checkWith and outline", () => {
    const text = "FROM scratch\nCOPY secret.txt notes.md /\n";
    const options = { dockerignore: "secret.txt\n" };
    const expected = ['Attempting to Copy file "secret.txt" that is excluded by .dockerignore'];
    const ignored = (diagnostics) => diagnostics.filter((d) => d.code === "CopyIgnoredFile").map((d) => d.message);
    assert.deepEqual(ignored(planner.plan(text, options).diagnostics), expected);
    assert.deepEqual(ignored(planner.checkWith(text, options)), expected);
    assert.deepEqual(ignored(planner.outline(text, options).diagnostics), expected);
    assert.deepEqual(ignored(planner.checkWith(text, {})), []);
    assert.throws(() => planner.plan(text, { dockerignore: 3 }), /invalid options: dockerignore takes strings/);
  });

  test("options may be undefined or null", () => {
    assert.deepEqual(planner.plan(SEED, undefined), planner.plan(SEED, {}));
    assert.deepEqual(planner.plan(SEED, null), planner.plan(SEED, {}));
  });

  test("errors give a null plan and diagnostics with UTF-16 columns", () => {
    const outcome = planner.plan("FROM alpine AS a\nCOPY --from=5 /x /y\n", {});
    assert.equal(outcome.plan, null);
    const errors = outcome.diagnostics.filter((diagnostic) => diagnostic.severity === "error");
    assert.ok(errors.length > 0, JSON.stringify(outcome.diagnostics));
    assert.ok(errors.every((diagnostic) => diagnostic.line === 2), JSON.stringify(errors));

    const unknown = planner.plan(SEED, { targets: ["nope"] });
    assert.equal(unknown.plan, null);
    assert.ok(unknown.diagnostics.some((diagnostic) => diagnostic.line === 0 && diagnostic.severity === "error"));

    // A stage name after an emoji: the UTF-16 column counts the surrogate pair as two.
    const emoji = planner.check("# 😀\nFROM alpine AS Builder\n");
    for (const diagnostic of emoji) {
      assert.ok(diagnostic.column_utf16 >= diagnostic.column);
    }
    const wide = planner.plan("FROM alpine AS a\nCOPY --from=😀 /a /b\n", {}).diagnostics.find((d) => d.severity === "error");
    assert.ok(wide, "an error for the unknown stage");
    if (wide.end_column > wide.column + 1) {
      assert.equal(wide.end_column_utf16 - wide.column_utf16, wide.end_column - wide.column + 1);
    }
  });

  test("check reports every stage without a target", () => {
    const diagnostics = planner.check("FROM alpine AS Builder\nRUN true\n");
    assert.ok(Array.isArray(diagnostics));
    assert.ok(diagnostics.every((diagnostic) => typeof diagnostic.code === "string" && diagnostic.line >= 0));
  });

  test("suggestStage gives the planner's own did-you-mean for a stage name", () => {
    const names = ["base", "build", "test"];
    assert.equal(planner.suggestStage("bulid", names), "build");
    assert.equal(planner.suggestStage("build", names), undefined, "an exact name needs no suggestion");
    assert.equal(planner.suggestStage("zzzzzz", names), undefined, "nothing within distance 2");
    // The same suggestion as the unknown-target error of a plan.
    const text = "FROM alpine AS base\nFROM base AS build\nFROM build AS test\n";
    const error = planner.plan(text, { targets: ["tesst"] }).diagnostics.find((d) => d.code === "UnknownTarget");
    assert.match(error.message, new RegExp(`did you mean ${planner.suggestStage("tesst", names)}\\?`));
  });

  test("graph draws dot and mermaid text", () => {
    const dot = planner.graph(SEED, {}, "dot");
    assert.match(dot, /digraph/);
    assert.match(dot, /builder/);
    const mermaid = planner.graph(SEED, {}, "mermaid");
    assert.match(mermaid, /^(flowchart|graph)/m);
    assert.match(mermaid, /builder/);
  });

  test("bad input becomes a JavaScript Error with a message, never a crash", () => {
    assert.throws(() => planner.plan(SEED, { target: ["x"] }), (err) => err instanceof Error && /invalid options/.test(err.message));
    assert.throws(() => planner.plan(SEED, { targets: "builder" }), /invalid options/);
    assert.throws(() => planner.graph(SEED, {}, "png"), /unknown graph format "png"/);
    assert.throws(() => planner.graph("FROM\n", {}, "dot"), /the Dockerfile has errors; line 1/);
    // The module still works after the errors.
    assert.deepEqual(planner.plan(SEED, {}).plan.targets, [1]);
  });

  test(`the optimised .wasm is at most ${GZIP_LIMIT_BYTES / 1024} KiB gzip`, () => {
    const bytes = readFileSync(join(webDir, "pkg", "web", "planner_bg.wasm"));
    const gz = gzipSync(bytes, { level: 9 }).length;
    console.log(`planner_bg.wasm: ${bytes.length} bytes, ${gz} bytes gzip`);
    assert.ok(gz <= GZIP_LIMIT_BYTES, `${gz} bytes gzip exceeds ${GZIP_LIMIT_BYTES}`);
  });
});

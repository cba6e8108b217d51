// Shared helpers of the extension's tests: paths, the real nodejs WASM planner, a TypeScript module
// bundled on the fly, the `vscode` stand-in, and a sample multi-stage Dockerfile.
//
// Input: web/pkg/node (built by `npm --prefix web run build:wasm`) and web/extension/src.
// Output: loaded modules for node:test files.
// Invariant: the planner is the real WASM package, never a mock.
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export const extensionDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const webDir = resolve(extensionDir, "..");
export const rootDir = resolve(webDir, "..");
const require = createRequire(import.meta.url);

/** The real planner: the nodejs WASM package. */
export function loadPlanner() {
  return require(join(webDir, "pkg", "node"));
}

/** Bundles a TypeScript module of src/ to CommonJS and loads it. */
export async function loadSource(relativePath) {
  const outDir = mkdtempSync(join(tmpdir(), "stageplan-ext-test-"));
  const outfile = join(outDir, "module.cjs");
  await build({
    entryPoints: [join(extensionDir, "src", relativePath)],
    outfile,
    bundle: true,
    platform: "node",
    format: "cjs",
    external: ["vscode"],
    logLevel: "error",
  });
  return require(outfile);
}

/** Makes `require("vscode")` return the stand-in, and returns it (one instance per process). */
export function installVscodeStub() {
  const Module = require("node:module");
  const stubPath = join(extensionDir, "test", "vscode-stub.cjs");
  if (!Module._stageplanStub) {
    const original = Module._resolveFilename;
    Module._resolveFilename = function (request, ...rest) {
      return request === "vscode" ? stubPath : original.call(this, request, ...rest);
    };
    Module._stageplanStub = true;
  }
  return require(stubPath);
}

/** A temporary folder holding `files` ({ name: text }); returns its path. */
export function tempFolder(files) {
  const dir = mkdtempSync(join(tmpdir(), "stageplan-ext-doc-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** A multi-stage Dockerfile with every kind of stage reference (1-based line numbers in comments). */
export const SAMPLE = [
  "# syntax=docker/dockerfile:1", // 1
  "ARG GO_VERSION=1.22", // 2
  "FROM alpine:3.20 AS tools", // 3
  "RUN apk add --no-cache git", // 4
  "FROM golang:${GO_VERSION} AS build", // 5
  "WORKDIR /src", // 6
  "RUN --mount=type=cache,target=/root/.cache \\", // 7
  "    --mount=type=bind,from=tools,source=/usr/bin/git,target=/usr/bin/git go build -o /app .", // 8
  "FROM build AS test", // 9
  "RUN go test ./...", // 10
  "FROM alpine:3.20 AS docs", // 11
  "COPY --from=tools /etc/os-release /os-release", // 12
  "FROM scratch AS prod", // 13
  "COPY --from=build /app /app", // 14
  'ENTRYPOINT ["/app"]', // 15
  "",
].join("\n");

/** Every fixture Dockerfile of the planner and the integration tests (files named Dockerfile* or *.Dockerfile). */
export function fixtureDockerfiles() {
  const walk = (dir) => {
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .sort()
      .flatMap((entry) => {
        const path = join(dir, entry);
        if (statSync(path).isDirectory()) return walk(path);
        return /^Dockerfile/.test(entry) || /\.Dockerfile$/.test(entry) ? [path] : [];
      });
  };
  return [join(rootDir, "tests", "fixtures"), join(rootDir, "planner", "tests", "fixtures")].flatMap(walk);
}

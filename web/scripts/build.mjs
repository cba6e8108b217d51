// Builds the playground: the planner compiled to WebAssembly, the wasm-bindgen packages for the
// browser (web/pkg/web) and Node (web/pkg/node), and the static Vite site (web/dist).
//
// Input: the planner crate (feature `wasm`), the TypeScript sources under web/src.
// Output: web/pkg/{web,node}/ (planner.js, planner_bg.wasm, planner.d.ts with the generated
// plan types, package.json) and web/dist/.
// Invariant: uses wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock and fails
// with a message saying how to install it otherwise; never downloads anything itself.
//
// Usage: node scripts/build.mjs [--wasm-only | --site-only] [--wasm-file PATH]
// (--wasm-file packages an already compiled planner.wasm instead of running cargo.)
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const rootDir = resolve(webDir, "..");
const pkgDir = join(webDir, "pkg");
const wasmFileArg = process.argv.indexOf("--wasm-file");
const wasmIn = wasmFileArg > 0
  ? resolve(process.argv[wasmFileArg + 1])
  : join(rootDir, "target", "wasm32-unknown-unknown", "wasm", "planner.wasm");
const typesFile = join(webDir, "src", "types", "planner-types.d.ts");

/** Runs a program, inheriting stdio; throws with the command line when it fails. */
function run(program, args, options = {}) {
  console.error(`$ ${program} ${args.join(" ")}`);
  execFileSync(program, args, { stdio: "inherit", ...options });
}

/** The wasm-bindgen version pinned in Cargo.lock. */
function lockedWasmBindgenVersion() {
  const lock = readFileSync(join(rootDir, "Cargo.lock"), "utf8");
  const match = lock.match(/\[\[package\]\]\nname = "wasm-bindgen"\nversion = "([^"]+)"/);
  if (!match) throw new Error("Cargo.lock has no wasm-bindgen package; is the planner's `wasm` feature declared?");
  return match[1];
}

/** Checks that the wasm-bindgen CLI on PATH matches Cargo.lock, or explains how to fix it. */
function checkWasmBindgen(version) {
  let found = "";
  try {
    found = execFileSync("wasm-bindgen", ["--version"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error(`wasm-bindgen is not installed; run \`cargo install wasm-bindgen-cli --version ${version}\` (or scripts/setup.sh)`);
  }
  if (found !== `wasm-bindgen ${version}`) {
    throw new Error(`found ${found}, but Cargo.lock pins wasm-bindgen ${version}; run \`cargo install wasm-bindgen-cli --version ${version} --force\``);
  }
}

/** Compiles the planner for wasm32 with the size-optimised `wasm` profile. */
function cargoBuild() {
  run("cargo", ["build", "-p", "planner", "--no-default-features", "--features", "wasm",
    "--target", "wasm32-unknown-unknown", "--profile", "wasm", "--locked"], { cwd: rootDir });
}

/** Runs wasm-bindgen for one target, then wasm-opt -Oz --converge (repeats -Oz while it still shrinks the module), then writes the typings and package.json. */
function bindgen(target, outName) {
  const outDir = join(pkgDir, outName);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  run("wasm-bindgen", [wasmIn, "--target", target, "--out-dir", outDir, "--out-name", "planner"]);
  const wasmFile = join(outDir, "planner_bg.wasm");
  const wasmOpt = join(webDir, "node_modules", ".bin", "wasm-opt");
  run(wasmOpt, ["-Oz", "--converge", wasmFile, "-o", wasmFile]);
  writeTypings(outDir);
  const pkg = {
    name: `stageplan-planner-${outName}`,
    version: readFileSync(join(rootDir, "planner", "Cargo.toml"), "utf8").match(/^version\s*=\s*"([^"]+)"/m)?.[1] ?? "0.1.0",
    description: "stageplan's planner compiled to WebAssembly",
    private: true,
    type: target === "nodejs" ? "commonjs" : "module",
    main: "planner.js",
    types: "planner.d.ts",
  };
  writeFileSync(join(outDir, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
  return wasmFile;
}

/** Puts the schema-generated plan types beside the wasm-bindgen typings and imports them. */
function writeTypings(outDir) {
  copyFileSync(typesFile, join(outDir, "planner-types.d.ts"));
  const dts = join(outDir, "planner.d.ts");
  const text = readFileSync(dts, "utf8");
  const header = 'import type { Diagnostic, Options, Outcome, Outline } from "./planner-types";\n';
  writeFileSync(dts, header + text);
}

/** Builds the static site with Vite. */
function viteBuild() {
  run(join(webDir, "node_modules", ".bin", "vite"), ["build"], { cwd: webDir });
}

function main() {
  const args = new Set(process.argv.slice(2));
  if (!args.has("--site-only")) {
    const version = lockedWasmBindgenVersion();
    checkWasmBindgen(version);
    if (wasmFileArg < 0) cargoBuild();
    if (!existsSync(wasmIn)) throw new Error(`cargo did not produce ${wasmIn}`);
    const webWasm = bindgen("web", "web");
    bindgen("nodejs", "node");
    const bytes = readFileSync(webWasm);
    const gz = gzipSync(bytes, { level: 9 }).length;
    console.error(`planner_bg.wasm: ${bytes.length} bytes, ${gz} bytes gzip (${(gz / 1024).toFixed(1)} KiB)`);
  }
  if (!args.has("--wasm-only")) {
    if (!existsSync(join(pkgDir, "web", "planner.js"))) {
      throw new Error("web/pkg/web is missing; run `npm --prefix web run build:wasm` first");
    }
    viteBuild();
    console.error(`site: ${join(webDir, "dist")} (${statSync(join(webDir, "dist")).isDirectory() ? "ok" : "missing"})`);
  }
}

try {
  main();
} catch (err) {
  console.error(`build failed: ${err.message}`);
  process.exit(1);
}

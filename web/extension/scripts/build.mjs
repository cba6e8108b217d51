// Builds the VS Code extension's bundles with esbuild.
//
// Input: web/extension/src (the extension), web/src (the shared graph component and panels) and the
// WASM packages web/pkg/node and web/pkg/web (from `npm --prefix web run build:wasm`).
// Output: web/extension/dist/{extension.js, planner_bg.wasm} (desktop, nodejs WASM),
// dist/{browser.js, web/planner_bg.wasm} (vscode.dev, web WASM) and dist/webview.js (the preview).
// Invariant: the shared code is imported and bundled, never copied; nothing is downloaded.
import { copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export const extensionDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const webDir = resolve(extensionDir, "..");
const distDir = join(extensionDir, "dist");

/** Builds every bundle; throws with what to run when the WASM packages are missing. */
export async function buildExtension() {
  for (const target of ["node", "web"]) {
    if (!existsSync(join(webDir, "pkg", target, "planner_bg.wasm"))) {
      throw new Error(`web/pkg/${target} is missing; run \`npm --prefix web run build:wasm\` first`);
    }
  }
  rmSync(distDir, { recursive: true, force: true });
  mkdirSync(join(distDir, "web"), { recursive: true });
  const common = { bundle: true, minify: true, sourcemap: false, legalComments: "none", logLevel: "warning", target: "es2022" };
  await build({
    ...common,
    entryPoints: [join(extensionDir, "src", "desktop.ts")],
    outfile: join(distDir, "extension.js"),
    platform: "node",
    format: "cjs",
    external: ["vscode"],
  });
  await build({
    ...common,
    entryPoints: [join(extensionDir, "src", "browser.ts")],
    outfile: join(distDir, "browser.js"),
    platform: "browser",
    format: "cjs",
    external: ["vscode"],
    // The web package's default .wasm URL uses import.meta.url; browser.ts passes the bytes instead.
    logOverride: { "empty-import-meta": "silent" },
  });
  await build({
    ...common,
    entryPoints: [join(extensionDir, "src", "webview", "main.ts")],
    outfile: join(distDir, "webview.js"),
    platform: "browser",
    format: "iife",
  });
  copyFileSync(join(webDir, "pkg", "node", "planner_bg.wasm"), join(distDir, "planner_bg.wasm"));
  copyFileSync(join(webDir, "pkg", "web", "planner_bg.wasm"), join(distDir, "web", "planner_bg.wasm"));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildExtension().then(
    () => console.error(`extension bundles: ${distDir}`),
    (err) => {
      console.error(`extension build failed: ${err.message}`);
      process.exit(1);
    },
  );
}

// Vite configuration of the playground: a static site with relative asset paths, so web/dist
// works from any static file server (or a sub-path) with no server code.
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 1024,
  },
  // The examples menu reads the seed's Dockerfiles from ../examples/seed/ (see src/examples.ts).
  server: { host: "127.0.0.1", fs: { allow: [".."] } },
  // The planning worker imports the WebAssembly package, which finds its .wasm by import.meta.url.
  worker: { format: "es" },
});

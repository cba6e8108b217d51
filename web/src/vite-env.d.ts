// Vite client types (CSS imports, import.meta.url assets) for the TypeScript check.
/// <reference types="vite/client" />

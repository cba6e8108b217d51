// The playground's state in a share URL and in localStorage.
//
// Input: the playground state (Dockerfile text, targets, build-args text, platform, .dockerignore,
// and the graph's view: focus, images, zoom).
// Output: a compact URL hash (`#s=` + base64url of the deflate-raw compressed JSON) and back;
// the same JSON in localStorage.
// Invariant: decoding never throws: a damaged hash or stored value gives null, and the caller
// says so and falls back to the next source (hash, then storage, then the first example).

/** Everything a share link or the stored session restores. */
export interface PlaygroundState {
  dockerfile: string;
  targets: string[];
  /** The build-args textarea as typed (KEY=VALUE lines). */
  buildArgs: string;
  platform: string;
  /** The .dockerignore text box ("" when empty; links made before it existed have none). */
  dockerignore: string;
  /** The graph's view (focus, image boxes, zoom); absent in links made before it existed. */
  view?: GraphViewState;
}

import type { GraphViewState } from "./graph/index";

const STORAGE_KEY = "stageplan-playground:v1";
const HASH_PREFIX = "#s=";

function isZoom(value: unknown): boolean {
  const zoom = value as { scale: unknown; x: unknown; y: unknown };
  return (
    value === null ||
    (typeof zoom === "object" && [zoom.scale, zoom.x, zoom.y].every((n) => typeof n === "number" && Number.isFinite(n)) && (zoom.scale as number) > 0)
  );
}

function isView(value: unknown): boolean {
  const view = value as GraphViewState;
  return value === undefined || (typeof view === "object" && view !== null && typeof view.focus === "boolean" && typeof view.images === "boolean" && isZoom(view.zoom));
}

function isState(value: unknown): value is PlaygroundState {
  const state = value as PlaygroundState;
  return (
    typeof state === "object" &&
    state !== null &&
    typeof state.dockerfile === "string" &&
    Array.isArray(state.targets) &&
    state.targets.every((target) => typeof target === "string") &&
    typeof state.buildArgs === "string" &&
    typeof state.platform === "string" &&
    (state.dockerignore === undefined || typeof state.dockerignore === "string") &&
    isView(state.view)
  );
}

/** A decoded state with the fields older links lack filled in. */
function complete(state: PlaygroundState): PlaygroundState {
  return { ...state, dockerignore: state.dockerignore ?? "" };
}

async function pipe(bytes: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const out = new Blob([bytes as BlobPart]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(out).arrayBuffer());
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

/** The URL hash (with `#`) that restores `state`. */
export async function encodeHash(state: PlaygroundState): Promise<string> {
  const json = new TextEncoder().encode(JSON.stringify(state));
  return HASH_PREFIX + toBase64Url(await pipe(json, new CompressionStream("deflate-raw")));
}

/** The state in a URL hash; null when the hash holds none or is damaged. */
export async function decodeHash(hash: string): Promise<PlaygroundState | null> {
  if (!hash.startsWith(HASH_PREFIX)) return null;
  try {
    const bytes = await pipe(fromBase64Url(hash.slice(HASH_PREFIX.length)), new DecompressionStream("deflate-raw"));
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return isState(value) ? complete(value) : null;
  } catch {
    return null;
  }
}

/** Remembers the state for the next visit (quietly does nothing when storage is unavailable). */
export function saveState(storage: Storage | null, state: PlaygroundState): void {
  try {
    storage?.setItem(STORAGE_KEY, JSON.stringify(state));
  } catch {
    // Storage full or disabled (private mode): the session is simply not remembered.
  }
}

/** The state of the last visit, or null. */
export function loadState(storage: Storage | null): PlaygroundState | null {
  try {
    const text = storage?.getItem(STORAGE_KEY);
    if (!text) return null;
    const value: unknown = JSON.parse(text);
    return isState(value) ? complete(value) : null;
  } catch {
    return null;
  }
}

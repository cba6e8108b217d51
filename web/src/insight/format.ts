// How the build pages write times and sizes.
//
// Input: milliseconds, bytes. Output: short texts (`850 ms`, `9.8 s`, `2 min 05 s`; `1.9 MB`).
// Invariant: decimal units as docker and the runner print them; pure functions.

/** Milliseconds as `850 ms`, `9.8 s`, `42 s`, `2 min 05 s`. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${String(Math.round(seconds - minutes * 60)).padStart(2, "0")} s`;
}

/** Bytes as `999 B`, `815 kB`, `7.9 MB`, `312 MB` (decimal units, as docker prints). */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  const sign = bytes < 0 ? "-" : "";
  if (unit === 0) return `${sign}${value} B`;
  return `${sign}${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** A size change as `+1.9 MB`, `-12 kB`, `±0 B`. */
export function formatDelta(bytes: number): string {
  if (bytes === 0) return "±0 B";
  return bytes > 0 ? `+${formatBytes(bytes)}` : formatBytes(bytes);
}

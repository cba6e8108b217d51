// Which edge the pointer is over, found by geometry instead of an invisible wide path per edge
// (which would double the drawing's elements and the browser's layout work for 200 edges).
//
// Input: the layout's edge routes and a point in drawing units. Output: the index of the nearest
// edge within a distance, or -1.
// Invariant: pure; follows the same curves the drawing draws (svg.ts pathData: level runs, and
// cubic S-curves with level ends between columns), sampled finely enough for a few-pixel hit.
import type { EdgePath } from "./layout";

/** Points along one route as drawn, with each S-curve sampled at `steps` points. */
export function routeSamples(points: { x: number; y: number }[], steps = 12): { x: number; y: number }[] {
  if (points.length === 0) return [];
  const out = [points[0]];
  for (let i = 1; i < points.length; i++) {
    const from = points[i - 1];
    const to = points[i];
    if (from.y === to.y) {
      out.push(to);
      continue;
    }
    const half = (to.x - from.x) / 2;
    for (let k = 1; k <= steps; k++) {
      const t = k / steps;
      const u = 1 - t;
      // Cubic Bézier from `from` to `to` with control points (from.x + half, from.y), (to.x - half, to.y).
      const x = u * u * u * from.x + 3 * u * u * t * (from.x + half) + 3 * u * t * t * (to.x - half) + t * t * t * to.x;
      const y = u * u * u * from.y + 3 * u * u * t * from.y + 3 * u * t * t * to.y + t * t * t * to.y;
      out.push({ x, y });
    }
  }
  return out;
}

function distanceToSegment(px: number, py: number, a: { x: number; y: number }, b: { x: number; y: number }): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const length = dx * dx + dy * dy;
  const t = length === 0 ? 0 : Math.max(0, Math.min(1, ((px - a.x) * dx + (py - a.y) * dy) / length));
  return Math.hypot(px - (a.x + t * dx), py - (a.y + t * dy));
}

/** Finds edges near points; build once per layout. */
export class EdgeFinder {
  private readonly samples: { x: number; y: number }[][];

  constructor(edges: EdgePath[]) {
    this.samples = edges.map((edge) => routeSamples(edge.points));
  }

  /** The index of the edge nearest to (`x`, `y`) within `within` units, or -1. */
  nearest(x: number, y: number, within: number): number {
    let best = -1;
    let bestDistance = within;
    this.samples.forEach((samples, edgeIdx) => {
      for (let i = 1; i < samples.length; i++) {
        const a = samples[i - 1];
        const b = samples[i];
        // Skip segments whose box is farther than the best distance so far.
        if (Math.min(a.x, b.x) - bestDistance > x || Math.max(a.x, b.x) + bestDistance < x) continue;
        if (Math.min(a.y, b.y) - bestDistance > y || Math.max(a.y, b.y) + bestDistance < y) continue;
        const distance = distanceToSegment(x, y, a, b);
        if (distance < bestDistance) {
          bestDistance = distance;
          best = edgeIdx;
        }
      }
    });
    return best;
  }
}

// Counts the edge crossings of a laid-out graph, the measure of how tangled a drawing looks.
//
// Input: a GraphLayout (edges as polylines through their route points). Output: the number of
// pairs of edge segments that cross.
// Invariant: pure geometry on what is drawn, independent of how the layout was made, so layouts
// from different engines compare fairly. Segments that share an end point (edges leaving or
// entering the same box) do not count, nor do segments that only touch.
import type { GraphLayout } from "./layout";

interface Segment {
  edge: number;
  ax: number;
  ay: number;
  bx: number;
  by: number;
}

/** Which side of the line a→b the point c is on: positive, negative or 0 (on it). */
function side(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number {
  const cross = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
  return Math.abs(cross) < 1e-6 ? 0 : Math.sign(cross);
}

/** True when the two segments cross properly (each one's ends strictly on both sides of the other). */
function properlyCross(s: Segment, t: Segment): boolean {
  const d1 = side(s.ax, s.ay, s.bx, s.by, t.ax, t.ay);
  const d2 = side(s.ax, s.ay, s.bx, s.by, t.bx, t.by);
  const d3 = side(t.ax, t.ay, t.bx, t.by, s.ax, s.ay);
  const d4 = side(t.ax, t.ay, t.bx, t.by, s.bx, s.by);
  return d1 * d2 < 0 && d3 * d4 < 0;
}

/** The number of crossings between segments of different edges. */
export function countCrossings(layout: Pick<GraphLayout, "edges">): number {
  const segments: Segment[] = [];
  layout.edges.forEach((edge, edgeIdx) => {
    for (let i = 1; i < edge.points.length; i++) {
      const a = edge.points[i - 1];
      const b = edge.points[i];
      segments.push({ edge: edgeIdx, ax: a.x, ay: a.y, bx: b.x, by: b.y });
    }
  });
  // Sweep by x: only segments whose x ranges overlap can cross.
  const byLeft = segments
    .map((segment) => ({ segment, left: Math.min(segment.ax, segment.bx), right: Math.max(segment.ax, segment.bx) }))
    .sort((a, b) => a.left - b.left);
  let crossings = 0;
  for (let i = 0; i < byLeft.length; i++) {
    const first = byLeft[i];
    for (let j = i + 1; j < byLeft.length && byLeft[j].left <= first.right; j++) {
      const second = byLeft[j];
      if (first.segment.edge !== second.segment.edge && properlyCross(first.segment, second.segment)) crossings++;
    }
  }
  return crossings;
}

// The order of the boxes inside each column, chosen to cross few edges (the second phase of a
// layered, Sugiyama-style layout).
//
// Input: columns of vertex ids (real boxes and the route points of long edges) and the
// edges between neighbouring columns. Output: the columns reordered.
// Invariant: deterministic: ties keep the input order (file order), and the result is the best
// order seen by the exact crossing count. Barycentre sweeps down and up with swaps of neighbours
// ("transpose"), from two starts (file order and depth-first order), then sifting (each vertex
// tries every place in its column) while it lowers the count.

/** An edge between vertex `from` in column c and vertex `to` in column c + 1. */
export interface LayerEdge {
  from: number;
  to: number;
}

/** How many sweeps the barycentre phase makes at most, and without an improvement. */
const SWEEPS = 24;
const STALE_SWEEPS = 4;

/** Crossings between two neighbouring columns, given the edges between them and positions. */
function crossingsBetween(edges: LayerEdge[], leftPos: Int32Array, rightPos: Int32Array): number {
  // Sort by left position, then count inversions of the right positions (insertion into a
  // Fenwick tree over the right column's positions).
  const sorted = edges
    .map((edge) => [leftPos[edge.from], rightPos[edge.to]] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let size = 1;
  for (const [, right] of sorted) size = Math.max(size, right + 2);
  const tree = new Int32Array(size + 1);
  let crossings = 0;
  let inserted = 0;
  for (const [, right] of sorted) {
    // Edges inserted so far whose right end is strictly below this one cross it.
    let atOrAbove = 0;
    for (let i = right + 1; i > 0; i -= i & -i) atOrAbove += tree[i];
    crossings += inserted - atOrAbove;
    for (let i = right + 1; i <= size; i += i & -i) tree[i]++;
    inserted++;
  }
  return crossings;
}

/** Orders `columns` in place to reduce crossings; `edges[c]` joins column c to column c + 1. */
export function orderColumns(columns: number[][], edges: LayerEdge[][], vertexCount: number): void {
  const pos = new Int32Array(vertexCount);
  // Positions as fractions of their column's length, so columns of different sizes compare.
  const columnLength = new Int32Array(vertexCount);
  columns.forEach((column) => column.forEach((vertex) => (columnLength[vertex] = column.length)));
  const relative = (vertex: number) => (pos[vertex] + 0.5) / columnLength[vertex];
  const setPositions = (column: number[]) => column.forEach((vertex, idx) => (pos[vertex] = idx));
  columns.forEach(setPositions);
  const up: number[][] = Array.from({ length: vertexCount }, () => []);
  const down: number[][] = Array.from({ length: vertexCount }, () => []);
  for (const between of edges) {
    for (const edge of between) {
      down[edge.from].push(edge.to);
      up[edge.to].push(edge.from);
    }
  }
  const total = () => edges.reduce((sum, between) => sum + crossingsBetween(between, pos, pos), 0);

  /** Reorders one column by the mean position of each vertex's neighbours in `neighbours`. */
  const keys = new Float64Array(vertexCount);
  const sortByBarycentre = (column: number[], neighbours: number[][]) => {
    for (const vertex of column) {
      const near = neighbours[vertex];
      // A vertex with no neighbours on that side keeps its place.
      let sum = 0;
      for (const other of near) sum += relative(other);
      keys[vertex] = near.length === 0 ? relative(vertex) : sum / near.length;
    }
    column.sort((a, b) => keys[a] - keys[b] || pos[a] - pos[b]);
    setPositions(column);
  };

  const snapshot = () => columns.map((column) => [...column]);
  const restore = (saved: number[][]) => saved.forEach((column, c) => {
    columns[c] = [...column];
    setPositions(columns[c]);
  });
  /** Barycentre sweeps and transposes from the current order; the best order seen and its crossings. */
  const sweepFromHere = (): [number[][], number] => {
    let best = snapshot();
    let bestCrossings = total();
    for (let sweep = 0, stale = 0; sweep < SWEEPS && bestCrossings > 0 && stale < STALE_SWEEPS; sweep++, stale++) {
      if (sweep % 2 === 0) for (let c = 1; c < columns.length; c++) sortByBarycentre(columns[c], up);
      else for (let c = columns.length - 2; c >= 0; c--) sortByBarycentre(columns[c], down);
      transpose(columns, pos, up, down);
      const crossings = total();
      if (crossings < bestCrossings) {
        bestCrossings = crossings;
        best = snapshot();
        stale = -1;
      }
    }
    return [best, bestCrossings];
  };
  // Two starts: the file order, and a depth-first order (a vertex's successors follow it
  // closely); the better result wins, the file order on a tie.
  const fileOrder = snapshot();
  let [best, bestCrossings] = sweepFromHere();
  if (bestCrossings > 0) {
    restore(fileOrder);
    sortDepthFirst(columns, down, vertexCount);
    columns.forEach(setPositions);
    const [other, otherCrossings] = sweepFromHere();
    if (otherCrossings < bestCrossings) [best, bestCrossings] = [other, otherCrossings];
  }
  restore(best);
  // Sifting: each vertex tries every place in its column and takes the one with the fewest
  // crossings; kept only when the whole count drops.
  for (let pass = 0; pass < 4 && bestCrossings > 0; pass++) {
    for (const column of columns) sift(column, pos, up, down);
    const crossings = total();
    if (crossings >= bestCrossings) {
      restore(best);
      break;
    }
    bestCrossings = crossings;
    best = snapshot();
  }
}

/** Moves each vertex of `column` (most connected first) to its best place in the column. */
function sift(column: number[], pos: Int32Array, up: number[][], down: number[][]): void {
  const byDegree = [...column].sort((a, b) => up[b].length + down[b].length - (up[a].length + down[a].length) || pos[a] - pos[b]);
  for (const vertex of byDegree) {
    const from = column.indexOf(vertex);
    column.splice(from, 1);
    // Crossings relative to the vertex placed first, changing as it passes each other vertex;
    // on a tie the vertex stays where it was.
    let change = 0;
    let bestChange = 0;
    let bestAt = 0;
    for (let i = 0; i < column.length; i++) {
      change += pairCrossings(column[i], vertex, pos, up, down) - pairCrossings(vertex, column[i], pos, up, down);
      if (change < bestChange || (change === bestChange && i + 1 === from)) {
        bestChange = change;
        bestAt = i + 1;
      }
    }
    column.splice(bestAt, 0, vertex);
    column.forEach((other, idx) => (pos[other] = idx));
  }
}

/** Sorts each column in the order a depth-first walk from the file order meets its vertices. */
function sortDepthFirst(columns: number[][], down: number[][], vertexCount: number): void {
  const visited = new Uint8Array(vertexCount);
  const rank = new Int32Array(vertexCount);
  let next = 0;
  const visit = (vertex: number) => {
    if (visited[vertex]) return;
    visited[vertex] = 1;
    rank[vertex] = next++;
    for (const successor of down[vertex]) visit(successor);
  };
  for (const column of columns) for (const vertex of column) visit(vertex);
  for (const column of columns) column.sort((a, b) => rank[a] - rank[b]);
}

/** Crossings among the edges of `a` and `b` (neighbours in a column) when `a` is above `b`. */
function pairCrossings(a: number, b: number, pos: Int32Array, up: number[][], down: number[][]): number {
  return sideCrossings(up[a], up[b], pos) + sideCrossings(down[a], down[b], pos);
}

function sideCrossings(fromA: number[], fromB: number[], pos: Int32Array): number {
  let crossings = 0;
  for (let i = 0; i < fromA.length; i++) {
    const x = pos[fromA[i]];
    for (let j = 0; j < fromB.length; j++) if (x > pos[fromB[j]]) crossings++;
  }
  return crossings;
}

/** Swaps neighbours in every column while a swap removes crossings (a few passes at most). */
function transpose(columns: number[][], pos: Int32Array, up: number[][], down: number[][]): void {
  for (let pass = 0; pass < 2; pass++) {
    let improved = false;
    for (const column of columns) {
      for (let i = 0; i + 1 < column.length; i++) {
        const a = column[i];
        const b = column[i + 1];
        if (pairCrossings(a, b, pos, up, down) > pairCrossings(b, a, pos, up, down)) {
          column[i] = b;
          column[i + 1] = a;
          pos[a] = i + 1;
          pos[b] = i;
          improved = true;
        }
      }
    }
    if (!improved) break;
  }
}

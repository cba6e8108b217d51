// Vertical positions of the ordered columns (the third phase of the layered layout): each box
// as close as it can be to the boxes it is joined to, without overlapping its column neighbours.
//
// Input: ordered columns of vertices with their heights, weights, and each vertex's neighbours
// in the column to the left and to the right. Output: the centre y of every vertex.
// Invariant: the order inside a column is kept and neighbours are at least `gap` apart; each
// column is placed by weighted isotonic regression (pool adjacent violators), the least-squares
// optimum for that column given the others, so sweeping left and right converges and straight
// long edges (heavy route points) win over short ones.

/** One vertex to place. */
export interface PlaceVertex {
  height: number;
  /** How strongly the vertex wants to line up with its neighbours (route points more). */
  weight: number;
  left: number[];
  right: number[];
}

const ROUNDS = 8;

/**
 * The least-squares positions `y[i] >= y[i-1] + minGap[i]` nearest to `want` (weights `w`), by
 * pooling adjacent violators.
 */
export function isotonicPlace(want: number[], weight: number[], minGap: number[]): number[] {
  const n = want.length;
  const offset: number[] = new Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += i === 0 ? 0 : minGap[i];
    offset[i] = acc;
  }
  // Blocks of pooled values over z = y - offset, which must not decrease.
  const blockValue: number[] = [];
  const blockWeight: number[] = [];
  const blockSize: number[] = [];
  for (let i = 0; i < n; i++) {
    let value = want[i] - offset[i];
    let w = weight[i];
    let size = 1;
    while (blockValue.length > 0 && blockValue[blockValue.length - 1] > value) {
      const prevW = blockWeight.pop()!;
      const prevV = blockValue.pop()!;
      value = (prevV * prevW + value * w) / (prevW + w);
      w += prevW;
      size += blockSize.pop()!;
    }
    blockValue.push(value);
    blockWeight.push(w);
    blockSize.push(size);
  }
  const y: number[] = new Array(n);
  let i = 0;
  blockValue.forEach((value, block) => {
    for (let k = 0; k < blockSize[block]; k++, i++) y[i] = value + offset[i];
  });
  return y;
}

/** Centre y of every vertex; `columns` are ordered lists of vertex indices. */
export function placeColumns(columns: number[][], vertices: PlaceVertex[], gapOf: (above: number, below: number) => number): number[] {
  const y = new Array<number>(vertices.length).fill(0);
  // Start packed from the top.
  for (const column of columns) {
    let top = 0;
    column.forEach((vertex, idx) => {
      if (idx > 0) top += gapOf(column[idx - 1], vertex);
      y[vertex] = top + vertices[vertex].height / 2;
      top += vertices[vertex].height;
    });
  }
  const placeColumn = (column: number[], sides: ("left" | "right")[]) => {
    if (column.length === 0) return;
    const want: number[] = [];
    const weight: number[] = [];
    const minGap: number[] = [];
    column.forEach((vertex, idx) => {
      const near = sides.flatMap((side) => vertices[vertex][side]);
      const mean = near.length === 0 ? y[vertex] : near.reduce((sum, other) => sum + y[other], 0) / near.length;
      want.push(mean);
      weight.push(near.length === 0 ? 0.05 : vertices[vertex].weight * Math.sqrt(near.length));
      if (idx > 0) {
        const above = column[idx - 1];
        minGap.push((vertices[above].height + vertices[vertex].height) / 2 + gapOf(above, vertex));
      } else {
        minGap.push(0);
      }
    });
    isotonicPlace(want, weight, minGap).forEach((value, idx) => (y[column[idx]] = value));
  };
  for (let round = 0; round < ROUNDS; round++) {
    const last = round === ROUNDS - 1;
    if (round % 2 === 0) for (let c = 1; c < columns.length; c++) placeColumn(columns[c], last ? ["left", "right"] : ["left"]);
    else for (let c = columns.length - 2; c >= 0; c--) placeColumn(columns[c], last ? ["left", "right"] : ["right"]);
  }
  for (const column of columns) placeColumn(column, ["left", "right"]);
  return y;
}

/**
 * Centre y of every vertex kept near `previous` (the y each vertex had in the last layout, or
 * null for a new one): known vertices stay where they were unless a new neighbour needs room, and
 * new ones go next to the vertices they are joined to. A re-plan after a small edit so keeps the
 * picture.
 */
export function placeNearPrevious(
  columns: number[][],
  vertices: PlaceVertex[],
  gapOf: (above: number, below: number) => number,
  previous: (number | null)[],
): number[] {
  const y = previous.map((value) => value ?? 0);
  const placeColumn = (column: number[]) => {
    const want: number[] = [];
    const minGap: number[] = [];
    column.forEach((vertex, idx) => {
      const known = previous[vertex];
      if (known !== null) {
        want.push(known);
      } else {
        const near = [...vertices[vertex].left, ...vertices[vertex].right];
        want.push(near.length === 0 ? (idx > 0 ? y[column[idx - 1]] : 0) : near.reduce((sum, other) => sum + y[other], 0) / near.length);
      }
      minGap.push(idx === 0 ? 0 : (vertices[column[idx - 1]].height + vertices[vertex].height) / 2 + gapOf(column[idx - 1], vertex));
    });
    // New vertices give way to the known ones, which keep their places where they can.
    const weight = column.map((vertex) => (previous[vertex] === null ? 0.05 : 1));
    isotonicPlace(want, weight, minGap).forEach((value, idx) => (y[column[idx]] = value));
  };
  // Twice: new vertices find their neighbours' places in the first round.
  for (let round = 0; round < 2; round++) for (const column of columns) placeColumn(column);
  return y;
}
